-- rotate_refresh_token locked the presented token's row and then its
-- session's; revoke_session and revoke_user_sessions lock sessions and then
-- their tokens. A refresh racing "sign out everywhere" (or an admin's
-- revoke-sessions) could so deadlock, and PostgreSQL aborted one of the two
-- with 40P01: a 500 for the refresh or the logout. Found by
-- test/reliability/concurrency.test.ts. Same function and results; the locks
-- are now taken session first, like every other function here.
-- (create or replace keeps the function's grants.)

create or replace function rolegate.rotate_refresh_token(
  p_token_hash text, p_successor_hash text, p_refresh_ttl_seconds integer, p_grace_seconds integer
) returns jsonb
language plpgsql as $$
declare
  t rolegate.refresh_tokens;
  s rolegate.sessions;
  u rolegate.users;
  child_hash text;
  token_session_id uuid;
begin
  select session_id into token_session_id from rolegate.refresh_tokens where token_hash = p_token_hash;
  if token_session_id is null then
    return jsonb_build_object('status', 'not_found');
  end if;
  -- Session first, then token: the order every revocation takes them in.
  -- The session's row lock also serialises every concurrent rotation.
  select * into s from rolegate.sessions where id = token_session_id for update;
  select * into t from rolegate.refresh_tokens where token_hash = p_token_hash for update;
  if t.id is null or s.id is null then
    return jsonb_build_object('status', 'not_found');
  end if;
  select * into u from rolegate.users where id = s.user_id;

  if s.revoked_at is not null or t.revoked_at is not null then
    return jsonb_build_object('status', 'revoked', 'session_id', s.id, 'user_id', s.user_id);
  end if;
  if u.disabled_at is not null or u.token_version <> s.token_version then
    update rolegate.sessions set revoked_at = now(),
      revoked_reason = case when u.disabled_at is not null then 'user_disabled' else 'revoked' end
    where id = s.id;
    update rolegate.refresh_tokens set revoked_at = now() where session_id = s.id and revoked_at is null;
    return jsonb_build_object('status', 'revoked', 'session_id', s.id, 'user_id', s.user_id);
  end if;

  if t.used_at is not null then
    -- A grace of 0 means none: PGlite's clock can read the same instant twice,
    -- which made an immediate replay count as "within" a zero interval.
    if p_grace_seconds > 0 and clock_timestamp() - t.used_at <= make_interval(secs => p_grace_seconds) then
      select token_hash into child_hash from rolegate.refresh_tokens where parent_id = t.id;
      if child_hash is distinct from p_successor_hash then
        return jsonb_build_object('status', 'conflict', 'session_id', s.id);
      end if;
      return jsonb_build_object('status', 'rotated', 'session_id', s.id,
        'expires_at', (select expires_at from rolegate.refresh_tokens where parent_id = t.id),
        'user', rolegate.user_json(u));
    end if;
    update rolegate.sessions set revoked_at = now(), revoked_reason = 'refresh_token_reused' where id = s.id;
    update rolegate.refresh_tokens set revoked_at = now() where session_id = s.id and revoked_at is null;
    insert into rolegate.audit_log (event, user_id, session_id, detail)
    values ('refresh_token_reused', s.user_id, s.id, jsonb_build_object('token_id', t.id));
    return jsonb_build_object('status', 'reused', 'session_id', s.id, 'user_id', s.user_id);
  end if;

  if t.expires_at <= now() then
    return jsonb_build_object('status', 'expired', 'session_id', s.id);
  end if;

  update rolegate.refresh_tokens set used_at = clock_timestamp() where id = t.id;
  insert into rolegate.refresh_tokens (token_hash, session_id, parent_id, expires_at)
  values (p_successor_hash, s.id, t.id, now() + make_interval(secs => p_refresh_ttl_seconds));
  update rolegate.sessions set last_seen_at = now() where id = s.id;
  return jsonb_build_object('status', 'rotated', 'session_id', s.id,
    'expires_at', now() + make_interval(secs => p_refresh_ttl_seconds),
    'user', rolegate.user_json(u));
end $$;
