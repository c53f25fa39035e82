-- The Identity mirror read page by page, newest copy per address, ordered by address, so
-- `rolegate users import --identity-mirror` can make rolegate users of everyone the sync
-- copied. Keyset pagination: p_after_email is the last address of the previous page.
-- Returns a JSON array of identity_user_json objects.

create function rolegate.list_identity_users(p_limit integer, p_after_email text default null) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(rolegate.identity_user_json(m) order by lower(m.email)), '[]'::jsonb)
  from (
    select distinct on (lower(email)) *
    from rolegate.identity_users
    where p_after_email is null or lower(email) > lower(p_after_email)
    order by lower(email), updated_at desc, observed_at desc
    limit least(greatest(coalesce(p_limit, 100), 1), 1000)
  ) m
$$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
revoke all on function rolegate.list_identity_users(integer, text) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.list_identity_users(integer, text) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.list_identity_users(integer, text) to service_role;
  end if;
end $$;
