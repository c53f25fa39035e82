-- A user imported from the Identity mirror has no password here; their first login with the
-- Identity password sets it (src/auth/identity-migration.ts, Store.setFirstPassword). That write
-- now lands only while the password is still null, in one statement: of two first logins at
-- once the second leaves the first one's hash (the row lock makes it re-check the condition on
-- the committed row), and a password set meanwhile by any other means is never overwritten.
-- The name and arguments stay (migrations are append-only; `create or replace` keeps the grants
-- of the first migration); its one caller is that first login.
-- Returns {status: "updated"}, {status: "already_set"} or {status: "not_found"}.

create or replace function rolegate.set_user_password(p_user_id uuid, p_password_hash text) returns jsonb
language plpgsql as $$
declare
  found_id uuid;
begin
  update rolegate.users set password_hash = p_password_hash, updated_at = now()
  where id = p_user_id and password_hash is null
  returning id into found_id;
  if found_id is null then
    if exists (select 1 from rolegate.users where id = p_user_id) then
      return jsonb_build_object('status', 'already_set');
    end if;
    return jsonb_build_object('status', 'not_found');
  end if;
  insert into rolegate.audit_log (event, user_id) values ('password_changed', found_id);
  return jsonb_build_object('status', 'updated');
end $$;
