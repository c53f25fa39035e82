-- The grace interval answered a rotated token with its successor whenever it
-- came back within p_grace_seconds, even when that successor had itself been
-- rotated since. Whoever held a copy of R0 could so walk R0 → R1 → R2 along
-- the owner's rotations, reaching the live token without tripping reuse
-- detection. The grace exists for one case: requests of one browser (two
-- tabs) sent with the same token at the same moment. It now hands out the
-- successor only
--
--   * while that successor is still unused (the session's live token): a
--     rotated token whose successor was rotated too is two generations old,
--     which no racing tab can be, so it counts as reuse; and
--   * to the client that rotated it: p_client is a hash the functions derive
--     from the fingerprint cookie when TOKEN_FINGERPRINT is on, otherwise from
--     the User-Agent. Another client presenting the rotated token within the
--     interval counts as reuse too. Null means the caller cannot tell (a row
--     rotated before this migration, a caller without the request's headers):
--     then only the first rule applies.
--
-- Reuse is answered as before: the session is revoked and committed, then
-- reported ("commit, then fail"). Same locks, same order as
-- 20261123100000_rotate_lock_order.sql.

alter table rolegate.refresh_tokens add column rotated_for text;

drop function rolegate.rotate_refresh_token(text, text, integer, integer);

create function rolegate.rotate_refresh_token(
  p_token_hash text, p_successor_hash text, p_refresh_ttl_seconds integer, p_grace_seconds integer, p_client text
) returns jsonb
language plpgsql as $$
declare
  t rolegate.refresh_tokens;
  s rolegate.sessions;
  u rolegate.users;
  child rolegate.refresh_tokens;
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
      select * into child from rolegate.refresh_tokens where parent_id = t.id;
      if child.token_hash is distinct from p_successor_hash then
        return jsonb_build_object('status', 'conflict', 'session_id', s.id);
      end if;
      if child.used_at is null
         and (t.rotated_for is null or p_client is null or t.rotated_for = p_client) then
        return jsonb_build_object('status', 'rotated', 'session_id', s.id,
          'expires_at', child.expires_at, 'user', rolegate.user_json(u));
      end if;
      -- Two generations old, or another client: reuse, below.
    end if;
    update rolegate.sessions set revoked_at = now(), revoked_reason = 'refresh_token_reused' where id = s.id;
    update rolegate.refresh_tokens set revoked_at = now() where session_id = s.id and revoked_at is null;
    insert into rolegate.audit_log (event, user_id, session_id, detail)
    values ('refresh_token_reused', s.user_id, s.id, jsonb_build_object('token_id', t.id,
      'within_grace', p_grace_seconds > 0 and clock_timestamp() - t.used_at <= make_interval(secs => p_grace_seconds)));
    return jsonb_build_object('status', 'reused', 'session_id', s.id, 'user_id', s.user_id);
  end if;

  if t.expires_at <= now() then
    return jsonb_build_object('status', 'expired', 'session_id', s.id);
  end if;

  update rolegate.refresh_tokens set used_at = clock_timestamp(), rotated_for = p_client where id = t.id;
  insert into rolegate.refresh_tokens (token_hash, session_id, parent_id, expires_at)
  values (p_successor_hash, s.id, t.id, now() + make_interval(secs => p_refresh_ttl_seconds));
  update rolegate.sessions set last_seen_at = now() where id = s.id;
  return jsonb_build_object('status', 'rotated', 'session_id', s.id,
    'expires_at', now() + make_interval(secs => p_refresh_ttl_seconds),
    'user', rolegate.user_json(u));
end $$;

-- A new function gets PUBLIC's default execute right: take it away, as in the first migration.
revoke all on function rolegate.rotate_refresh_token(text, text, integer, integer, text) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on function rolegate.rotate_refresh_token(text, text, integer, integer, text) from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant execute on function rolegate.rotate_refresh_token(text, text, integer, integer, text) to service_role;
  end if;
end $$;
