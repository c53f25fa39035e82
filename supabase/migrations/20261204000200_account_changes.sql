-- A signed-in user changes their own password or address.
--
-- Both need a live session (live_session_user: not revoked, its user enabled and its
-- token_version current), so a stolen access token of an ended session changes nothing. A new password ends every other
-- session of the user and keeps this one. A new address is only requested here: it takes
-- effect when the link mailed to it is used, and the old address is told at once.

-- Whether p_session_id is a live session of p_user_id: asked before a current password is
-- checked, so an ended session's access token learns nothing about the password.
-- (A read: nothing is locked; the change that follows checks again under its lock.)
create function rolegate.session_is_live(p_user_id uuid, p_session_id uuid) returns boolean
language sql stable as $$
  select exists (
    select 1 from rolegate.users u join rolegate.sessions s on s.user_id = u.id
    where u.id = p_user_id and s.id = p_session_id and s.revoked_at is null
      and u.disabled_at is null and s.token_version = u.token_version)
$$;

-- Sets the password (checked by the caller against the current one), ends every other session
-- (their refresh tokens stop working: token_version moves on, and this session moves with it)
-- and every link mailed for the account that a password change should end.
-- Returns {status: "changed", sessions_ended} or {status: "not_live"}.
create function rolegate.change_password(p_user_id uuid, p_session_id uuid, p_password_hash text, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  ended integer;
begin
  u := rolegate.live_session_user(p_user_id, p_session_id);
  if u.id is null then return jsonb_build_object('status', 'not_live'); end if;
  update rolegate.users set password_hash = p_password_hash, token_version = token_version + 1, updated_at = now()
  where id = u.id returning * into u;
  update rolegate.sessions set revoked_at = now(), revoked_reason = 'password_changed'
  where user_id = u.id and id <> p_session_id and revoked_at is null;
  get diagnostics ended = row_count;
  update rolegate.refresh_tokens t set revoked_at = now()
  from rolegate.sessions s
  where t.session_id = s.id and s.user_id = u.id and s.id <> p_session_id and t.revoked_at is null;
  update rolegate.sessions set token_version = u.token_version where id = p_session_id;
  -- Links mailed before now (recovery, sign-in, an address change asked with the old
  -- password) would undo the change or go around it: they stop working.
  update rolegate.email_tokens set used_at = now()
  where user_id = u.id and purpose in ('recovery', 'magic_link', 'email_change') and used_at is null;
  insert into rolegate.audit_log (event, user_id, session_id, ip, detail)
  values ('password_changed', u.id, p_session_id, left(p_ip, 64), jsonb_build_object('sessions_ended', ended));
  return jsonb_build_object('status', 'changed', 'sessions_ended', ended);
end $$;

-- Asks to move the account to p_new_email: counted against the throttle keys first; then a
-- confirmation link to the new address and a notice to the old one. An address another
-- account holds gets nothing, with the same answer, so the form tells nobody which addresses
-- are taken. Returns {status: "queued" | "unchanged" | "not_live" | "throttled", retry_after_seconds?}.
create function rolegate.request_email_change(
  p_user_id uuid, p_session_id uuid, p_new_email text, p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_throttle_keys text[], p_throttle_limits integer[], p_window_seconds integer, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  throttle jsonb;
  u rolegate.users;
  new_email text := lower(btrim(p_new_email));
begin
  throttle := rolegate.count_request(p_throttle_keys, p_throttle_limits, p_window_seconds);
  if (throttle->>'throttled')::boolean then
    return jsonb_build_object('status', 'throttled', 'retry_after_seconds', throttle->'retry_after_seconds');
  end if;
  u := rolegate.live_session_user(p_user_id, p_session_id);
  if u.id is null then return jsonb_build_object('status', 'not_live'); end if;
  if new_email = lower(u.email) then return jsonb_build_object('status', 'unchanged'); end if;
  if exists (select 1 from rolegate.users where lower(email) = new_email) then
    return jsonb_build_object('status', 'queued');
  end if;
  perform rolegate.queue_token_mail(u.id, new_email, 'email_change', p_token_hash, p_ttl_seconds, p_sealed,
    jsonb_build_object('email', u.email, 'new_email', new_email));
  insert into rolegate.mail_outbox (recipient, template, variables)
  values (u.email, 'email_change_notice', jsonb_build_object('email', u.email, 'new_email', new_email));
  insert into rolegate.audit_log (event, user_id, session_id, ip) values ('email_change_requested', u.id, p_session_id, left(p_ip, 64));
  return jsonb_build_object('status', 'queued');
end $$;

-- An address change link used: the token consumed in one statement, the address moved (and
-- confirmed: the mail reached it), and a session started, all or nothing. An address another
-- account took since the request leaves everything as it was, the link used.
-- Returns {status: "changed", session_id, user}, a refusal from email_token_refusal_any,
-- {status: "email_taken"} or {status: "user_unavailable"}.
create function rolegate.change_email_with_token(
  p_token_hash text, p_refresh_token_hash text, p_refresh_ttl_seconds integer,
  p_user_agent text default null, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  t rolegate.email_tokens;
  u rolegate.users;
  new_session_id uuid;
begin
  update rolegate.email_tokens set used_at = now()
  where token_hash = p_token_hash and purpose = 'email_change' and used_at is null and expires_at > now()
  returning * into t;
  if t.token_hash is null then
    return rolegate.email_token_refusal_any(p_token_hash, array['email_change']);
  end if;
  begin
    update rolegate.users set email = t.email, email_confirmed_at = now(), updated_at = now()
    where id = t.user_id and disabled_at is null
    returning * into u;
  exception when unique_violation then
    return jsonb_build_object('status', 'email_taken');
  end;
  if u.id is null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  insert into rolegate.audit_log (event, user_id, ip) values ('email_changed', u.id, left(p_ip, 64));
  new_session_id := rolegate.start_link_session(u, p_refresh_token_hash, p_refresh_ttl_seconds, p_user_agent, p_ip, 'email_change');
  return jsonb_build_object('status', 'changed', 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
do $$
declare
  fn text;
  browser_role text;
begin
  foreach fn in array array[
    'rolegate.session_is_live(uuid, uuid)',
    'rolegate.change_password(uuid, uuid, text, text)',
    'rolegate.request_email_change(uuid, uuid, text, text, integer, text, text[], integer[], integer, text)',
    'rolegate.change_email_with_token(text, text, integer, text, text)'
  ] loop
    execute format('revoke all on function %s from public', fn);
    foreach browser_role in array array['anon', 'authenticated'] loop
      if exists (select 1 from pg_roles where rolname = browser_role) then
        execute format('revoke all on function %s from %I', fn, browser_role);
      end if;
    end loop;
    if exists (select 1 from pg_roles where rolname = 'service_role') then
      execute format('grant execute on function %s to service_role', fn);
    end if;
  end loop;
end $$;
