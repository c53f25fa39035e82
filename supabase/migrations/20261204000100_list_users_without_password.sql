-- The enabled users who never chose a password here (invited and not yet accepted, or imported
-- from the Identity mirror and never signed in), page by page by address, for
-- `rolegate users invite --pending`. Keyset pagination: p_after_email is the last address of
-- the previous page. Returns a JSON array of user_json objects.

create function rolegate.list_users_without_password(p_limit integer, p_after_email text default null) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(rolegate.user_json(u) order by lower(u.email)), '[]'::jsonb)
  from (
    select * from rolegate.users
    where password_hash is null and disabled_at is null
      and (p_after_email is null or lower(email) > lower(p_after_email))
    order by lower(email)
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) u
$$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
revoke all on function rolegate.list_users_without_password(integer, text) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.list_users_without_password(integer, text) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.list_users_without_password(integer, text) to service_role;
  end if;
end $$;
