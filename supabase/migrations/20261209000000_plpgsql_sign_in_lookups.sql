-- The two lookups every sign-in makes, the throttle's state and the account, as PL/pgSQL.
-- A SQL function that cannot be inlined (an aggregate, a FROM) is planned again in every
-- transaction that calls it; PL/pgSQL keeps its statement's plan for the connection's life.
-- Sign-in asks the throttle twice (begin_login and create_session) and the account once,
-- each in a transaction of its own. Same arguments, same answers.

create or replace function rolegate.login_throttle_status(
  p_keys text[], p_limits integer[], p_window_seconds integer
) returns jsonb
language plpgsql stable as $$
begin
  return (
    select jsonb_build_object(
      'throttled', coalesce(bool_or(true), false),
      'retry_after_seconds', coalesce(max(ceil(extract(epoch from
        (t.window_started_at + make_interval(secs => p_window_seconds) - now())))::integer), 0))
    from unnest(p_keys, p_limits) as k(key, max_failures)
    join rolegate.login_throttle t on t.key = k.key
    where t.failures >= k.max_failures
      and t.window_started_at + make_interval(secs => p_window_seconds) > now());
end $$;

-- The login lookup: the only function that hands out a password hash (one account at most:
-- users_email_key is unique on lower(email)).
create or replace function rolegate.find_user_for_login(p_email text) returns jsonb
language plpgsql stable as $$
begin
  return (
    select rolegate.user_json(u) || jsonb_build_object('password_hash', u.password_hash)
    from rolegate.users u where lower(u.email) = lower(btrim(p_email)));
end $$;
