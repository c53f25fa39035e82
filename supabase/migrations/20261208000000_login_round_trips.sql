-- A sign-in in two round trips: the throttle is asked in the same call as the account
-- lookup (begin_login), and asked again in the same call that starts the session
-- (create_session), instead of in calls of their own before each.

-- Returns {throttled: true, retry_after_seconds} while any key is past its limit, the
-- account unread; else {throttled: false, retry_after_seconds: 0, user} with user as
-- find_user_for_login gives it (null for an unknown address).
create function rolegate.begin_login(
  p_email text, p_keys text[], p_limits integer[], p_window_seconds integer
) returns jsonb
language plpgsql stable as $$
declare
  throttle jsonb := rolegate.login_throttle_status(p_keys, p_limits, p_window_seconds);
begin
  if (throttle->>'throttled')::boolean then
    return throttle;
  end if;
  return throttle || jsonb_build_object('user', rolegate.find_user_for_login(p_email));
end $$;

-- As before, and with p_throttle_keys the login's keys are asked once more before anything
-- is written: failures counted in parallel while the password was checked refuse it
-- ({status: "throttled", retry_after_seconds}), so a burst of guesses learns no more
-- outcomes than the limit allows.
drop function rolegate.create_session(uuid, text, integer, text, text, text[]);
create function rolegate.create_session(
  p_user_id uuid, p_refresh_token_hash text, p_refresh_ttl_seconds integer,
  p_user_agent text default null, p_ip text default null, p_clear_throttle_keys text[] default '{}',
  p_throttle_keys text[] default null, p_throttle_limits integer[] default null, p_window_seconds integer default null
) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  throttle jsonb;
  new_session_id uuid;
begin
  if p_throttle_keys is not null then
    throttle := rolegate.login_throttle_status(p_throttle_keys, p_throttle_limits, p_window_seconds);
    if (throttle->>'throttled')::boolean then
      return throttle || jsonb_build_object('status', 'throttled');
    end if;
  end if;
  select * into u from rolegate.users where id = p_user_id;
  if u.id is null or u.disabled_at is not null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  insert into rolegate.sessions (user_id, token_version, user_agent, ip)
  values (u.id, u.token_version, left(p_user_agent, 512), left(p_ip, 64))
  returning id into new_session_id;
  insert into rolegate.refresh_tokens (token_hash, session_id, expires_at)
  values (p_refresh_token_hash, new_session_id, now() + make_interval(secs => p_refresh_ttl_seconds));
  delete from rolegate.login_throttle where key = any (coalesce(p_clear_throttle_keys, '{}'));
  insert into rolegate.audit_log (event, user_id, session_id, ip)
  values ('login_succeeded', u.id, new_session_id, left(p_ip, 64));
  return jsonb_build_object('status', 'created', 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- Nothing for PUBLIC or the browser roles, all for the service role (20261206000000).
select rolegate.restrict_to_service_role(array[
  'rolegate.begin_login(text, text[], integer[], integer)',
  'rolegate.create_session(uuid, text, integer, text, text, text[], text[], integer[], integer)'
]);
