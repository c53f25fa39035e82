-- "Sign out everywhere" took any unexpired access token as its proof, so the
-- nf_jwt of a session that had already been signed out (kept by whoever
-- copied it) could still end the user's newer sessions. This function ends
-- every session of the user only while the session the caller proves is
-- live: not revoked, of the user's current token_version, user not disabled.
-- Otherwise it changes nothing and answers {status: "not_live"}.
--
-- The user's row is locked first, the order revoke_user_sessions (which it
-- then calls) takes users and sessions in, so the two cannot deadlock.

create function rolegate.revoke_sessions_everywhere(p_session_id uuid, p_user_id uuid, p_reason text default 'logout_everywhere')
returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  s rolegate.sessions;
begin
  select * into u from rolegate.users where id = p_user_id for update;
  select * into s from rolegate.sessions where id = p_session_id and user_id = p_user_id;
  if u.id is null or s.id is null or s.revoked_at is not null
     or u.disabled_at is not null or s.token_version <> u.token_version then
    return jsonb_build_object('status', 'not_live');
  end if;
  return rolegate.revoke_user_sessions(p_user_id, p_reason);
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
revoke all on function rolegate.revoke_sessions_everywhere(uuid, uuid, text) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.revoke_sessions_everywhere(uuid, uuid, text) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.revoke_sessions_everywhere(uuid, uuid, text) to service_role;
  end if;
end $$;
