-- After a successful login, a password hash made at another bcrypt cost than
-- BCRYPT_COST (an imported GoTrue/Supabase user is cost 10) is replaced by one
-- at the configured cost, so every account's wrong password costs the same
-- work (see verifyPasswordEvenly in src/core/password.ts). Compare-and-set: a
-- password changed between the login's check and this call is left alone.
-- Not a password change: updated_at stays, and the audit entry says what it was.
-- Returns {status: "updated"} or {status: "unchanged"}.

create function rolegate.upgrade_password_hash(p_user_id uuid, p_old_hash text, p_new_hash text) returns jsonb
language plpgsql as $$
declare
  found_id uuid;
begin
  update rolegate.users set password_hash = p_new_hash
  where id = p_user_id and password_hash = p_old_hash
  returning id into found_id;
  if found_id is null then return jsonb_build_object('status', 'unchanged'); end if;
  insert into rolegate.audit_log (event, user_id, detail)
  values ('password_rehashed', found_id, jsonb_build_object('cost', substr(p_new_hash, 5, 2)::integer));
  return jsonb_build_object('status', 'updated');
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
revoke all on function rolegate.upgrade_password_hash(uuid, text, text) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.upgrade_password_hash(uuid, text, text) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.upgrade_password_hash(uuid, text, text) to service_role;
  end if;
end $$;
