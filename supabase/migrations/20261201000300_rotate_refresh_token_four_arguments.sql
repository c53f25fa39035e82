-- The four-argument rotate_refresh_token, as function code deployed before the
-- same-client grace rule calls it. On Supabase the schema (supabase db push)
-- and the functions (a deploy) change at different moments; without this, every
-- refresh from the old code fails in between. It answers as the new function
-- does for a client it cannot tell apart (p_client null: only the
-- successor-unused rule of the grace interval applies).
create function rolegate.rotate_refresh_token(
  p_token_hash text, p_successor_hash text, p_refresh_ttl_seconds integer, p_grace_seconds integer
) returns jsonb
language sql as $$
  select rolegate.rotate_refresh_token(p_token_hash, p_successor_hash, p_refresh_ttl_seconds, p_grace_seconds, null::text);
$$;

-- A new function gets PUBLIC's default execute right: take it away, as in the first migration.
revoke all on function rolegate.rotate_refresh_token(text, text, integer, integer) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.rotate_refresh_token(text, text, integer, integer) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.rotate_refresh_token(text, text, integer, integer) to service_role;
  end if;
end $$;
