-- Sign-up with a confirmation mail, invitations, and links that sign in.
--
-- A sign-up and an invitation each write the user, the token and the mail in one
-- transaction. A sign-up for an address that already has an account changes nothing of
-- that account and mails its owner instead, so the request's answer tells nobody whether
-- the address is known. An invitee has no password until the invitation link chooses one,
-- through the same function a recovery link uses.

-- Why a token could not be consumed for any of p_purposes:
-- {status: "used" | "expired" | "wrong_purpose" | "not_found"}.
create function rolegate.email_token_refusal_any(p_token_hash text, p_purposes text[]) returns jsonb
language sql stable as $$
  select jsonb_build_object('status', coalesce(
    (select case when not (t.purpose = any (p_purposes)) then 'wrong_purpose'
                 when t.used_at is not null then 'used'
                 else 'expired' end
     from rolegate.email_tokens t where t.token_hash = p_token_hash),
    'not_found'))
$$;

-- A token row and its mail (template p_template, or the purpose's own), after retiring the
-- user's unused tokens of the same purpose (only the newest link works).
create function rolegate.queue_token_mail(
  p_user_id uuid, p_email text, p_purpose text, p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_variables jsonb default '{}', p_template text default null
) returns void
language sql as $$
  update rolegate.email_tokens set used_at = now()
  where user_id = p_user_id and purpose = p_purpose and used_at is null;
  insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at)
  values (p_token_hash, p_purpose, p_user_id, p_email, now() + make_interval(secs => p_ttl_seconds));
  insert into rolegate.mail_outbox (recipient, template, sealed, variables)
  values (p_email, coalesce(p_template, p_purpose), p_sealed, coalesce(p_variables, '{}'));
$$;

-- A visitor signs up. Counted against the throttle keys first. Then:
--   a new address: the user is made with p_password_hash and p_roles; with p_confirmed
--     (no confirmation asked) it is confirmed at once ("created"), otherwise it waits for
--     the confirmation link mailed with it ("queued");
--   an address never confirmed (a sign-up waiting for its link, or an open invitation): two
--     people may have signed up for it, and only the mailbox tells them apart, so no password
--     sent is kept: the account loses its password and its earlier links, roles unchanged,
--     and the mailbox gets a link to choose the password (an invitation's link, in the
--     "signup_pending" mail) ("queued"); without confirmation asked this would hand a
--     stranger the account, so it is treated as taken;
--   any other existing address: nothing of the account changes; an enabled owner is
--     mailed that someone tried ("exists").
-- Returns {status: "created" | "queued" | "exists" | "throttled", user?, retry_after_seconds?}.
create function rolegate.request_signup(
  p_email text, p_password_hash text, p_roles text[], p_confirmed boolean,
  p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_throttle_keys text[], p_throttle_limits integer[], p_window_seconds integer, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  throttle jsonb;
  u rolegate.users;
begin
  throttle := rolegate.count_request(p_throttle_keys, p_throttle_limits, p_window_seconds);
  if (throttle->>'throttled')::boolean then
    return jsonb_build_object('status', 'throttled', 'retry_after_seconds', throttle->'retry_after_seconds');
  end if;
  insert into rolegate.users (email, password_hash, roles, email_confirmed_at)
  values (lower(btrim(p_email)), p_password_hash, coalesce(p_roles, '{}'), case when p_confirmed then now() end)
  on conflict do nothing
  returning * into u;
  if u.id is not null then
    insert into rolegate.audit_log (event, user_id, ip) values ('user_signed_up', u.id, left(p_ip, 64));
    if p_confirmed then
      return jsonb_build_object('status', 'created', 'user', rolegate.user_json(u));
    end if;
    perform rolegate.queue_token_mail(u.id, u.email, 'signup', p_token_hash, p_ttl_seconds, p_sealed);
    return jsonb_build_object('status', 'queued');
  end if;

  select * into u from rolegate.users where lower(email) = lower(btrim(p_email)) for update;
  if u.id is null or u.disabled_at is not null then
    return jsonb_build_object('status', 'exists');
  end if;
  if u.email_confirmed_at is null and not p_confirmed then
    update rolegate.users set password_hash = null, updated_at = now() where id = u.id;
    update rolegate.email_tokens set used_at = now() where user_id = u.id and purpose = 'signup' and used_at is null;
    perform rolegate.queue_token_mail(u.id, u.email, 'invite', p_token_hash, p_ttl_seconds, p_sealed, '{}', 'signup_pending');
    insert into rolegate.audit_log (event, user_id, ip) values ('signup_repeated', u.id, left(p_ip, 64));
    return jsonb_build_object('status', 'queued');
  end if;
  insert into rolegate.mail_outbox (recipient, template) values (u.email, 'signup_existing');
  insert into rolegate.audit_log (event, user_id, ip) values ('signup_for_existing_account', u.id, left(p_ip, 64));
  return jsonb_build_object('status', 'exists');
end $$;

-- A new session of u, its first refresh token and its audit row: where every link that signs
-- in ends. p_via (the link's purpose) goes into the audit row's detail; null leaves it empty.
create function rolegate.start_link_session(
  u rolegate.users, p_refresh_token_hash text, p_refresh_ttl_seconds integer, p_user_agent text, p_ip text, p_via text
) returns uuid
language plpgsql as $$
declare
  new_session_id uuid;
begin
  insert into rolegate.sessions (user_id, token_version, user_agent, ip)
  values (u.id, u.token_version, left(p_user_agent, 512), left(p_ip, 64))
  returning id into new_session_id;
  insert into rolegate.refresh_tokens (token_hash, session_id, expires_at)
  values (p_refresh_token_hash, new_session_id, now() + make_interval(secs => p_refresh_ttl_seconds));
  insert into rolegate.audit_log (event, user_id, session_id, ip, detail)
  values ('login_succeeded', u.id, new_session_id, left(p_ip, 64),
          case when p_via is null then '{}'::jsonb else jsonb_build_object('via', p_via) end);
  return new_session_id;
end $$;

-- A link that signs its user in (a sign-up confirmation, a link sign-in): the token is
-- consumed in one statement (of two uses exactly one gets past it), the address confirmed
-- (the mail reached it), and a session started, all or nothing.
-- Returns {status: "signed_in", purpose, session_id, user}, a refusal from
-- email_token_refusal_any, or {status: "user_unavailable"} (the user was disabled since).
create function rolegate.sign_in_with_token(
  p_token_hash text, p_purposes text[], p_refresh_token_hash text, p_refresh_ttl_seconds integer,
  p_user_agent text default null, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  t rolegate.email_tokens;
  u rolegate.users;
  new_session_id uuid;
begin
  update rolegate.email_tokens set used_at = now()
  where token_hash = p_token_hash and purpose = any (p_purposes) and purpose in ('signup', 'magic_link')
    and used_at is null and expires_at > now()
  returning * into t;
  if t.token_hash is null then
    return rolegate.email_token_refusal_any(p_token_hash, p_purposes);
  end if;
  update rolegate.users
  set email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
  where id = t.user_id and disabled_at is null and lower(email) = lower(t.email)
  returning * into u;
  if u.id is null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  if t.purpose = 'signup' then
    insert into rolegate.audit_log (event, user_id, ip) values ('email_confirmed', u.id, left(p_ip, 64));
  end if;
  new_session_id := rolegate.start_link_session(u, p_refresh_token_hash, p_refresh_ttl_seconds, p_user_agent, p_ip, t.purpose);
  return jsonb_build_object('status', 'signed_in', 'purpose', t.purpose, 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- The session p_session_id of p_user_id, locked with its user, while it is live; else null.
create function rolegate.live_session_user(p_user_id uuid, p_session_id uuid) returns rolegate.users
language plpgsql as $$
declare
  u rolegate.users;
  s rolegate.sessions;
begin
  select * into u from rolegate.users where id = p_user_id for update;
  select * into s from rolegate.sessions where id = p_session_id and user_id = p_user_id;
  if u.id is null or s.id is null or s.revoked_at is not null
     or u.disabled_at is not null or s.token_version <> u.token_version then
    return null;
  end if;
  return u;
end $$;

-- An admin invites an address. Counted against the throttle keys first (resends are limited
-- like every mail). A new address becomes a user with p_roles, no password and an
-- unconfirmed address ("invited"); a user who never chose a password (an earlier invitation,
-- or a user imported from Identity who never signed in) gets a new link, roles unchanged
-- ("resent"); a user with a password, or a disabled one, is left alone ("exists"). An
-- inviting admin (p_invited_by) must hold the live session p_inviter_session: an admin
-- disabled or signed out since their access token was issued invites nobody ("not_live").
-- Returns {status, user?, retry_after_seconds?}.
create function rolegate.invite_user(
  p_email text, p_roles text[], p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_throttle_keys text[], p_throttle_limits integer[], p_window_seconds integer,
  p_invited_by uuid default null, p_ip text default null, p_inviter_session uuid default null
) returns jsonb
language plpgsql as $$
declare
  throttle jsonb;
  u rolegate.users;
  outcome text := 'invited';
begin
  if p_invited_by is not null and (rolegate.live_session_user(p_invited_by, p_inviter_session)).id is null then
    return jsonb_build_object('status', 'not_live');
  end if;
  throttle := rolegate.count_request(p_throttle_keys, p_throttle_limits, p_window_seconds);
  if (throttle->>'throttled')::boolean then
    return jsonb_build_object('status', 'throttled', 'retry_after_seconds', throttle->'retry_after_seconds');
  end if;
  insert into rolegate.users (email, password_hash, roles, email_confirmed_at)
  values (lower(btrim(p_email)), null, coalesce(p_roles, '{}'), null)
  on conflict do nothing
  returning * into u;
  if u.id is null then
    select * into u from rolegate.users where lower(email) = lower(btrim(p_email)) for update;
    if u.id is null or u.password_hash is not null or u.disabled_at is not null then
      return jsonb_build_object('status', 'exists', 'user', case when u.id is null then null else rolegate.user_json(u) end);
    end if;
    outcome := 'resent';
  end if;
  perform rolegate.queue_token_mail(u.id, u.email, 'invite', p_token_hash, p_ttl_seconds, p_sealed);
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values (case when outcome = 'invited' then 'user_invited' else 'invitation_resent' end, u.id, left(p_ip, 64),
          jsonb_strip_nulls(jsonb_build_object('invited_by', p_invited_by)));
  return jsonb_build_object('status', outcome, 'user', rolegate.user_json(u));
end $$;

-- A link that chooses a password: recovery as before, and now an invitation too (the invitee
-- chooses a first password). Same signature, so every caller stays as it is.
create or replace function rolegate.reset_password_with_token(
  p_token_hash text, p_password_hash text, p_refresh_token_hash text, p_refresh_ttl_seconds integer,
  p_user_agent text default null, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  t rolegate.email_tokens;
  u rolegate.users;
  new_session_id uuid;
begin
  update rolegate.email_tokens set used_at = now()
  where token_hash = p_token_hash and purpose in ('recovery', 'invite') and used_at is null and expires_at > now()
  returning * into t;
  if t.token_hash is null then
    return rolegate.email_token_refusal_any(p_token_hash, array['recovery', 'invite']);
  end if;
  update rolegate.users
  set password_hash = p_password_hash, email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
  where id = t.user_id and disabled_at is null and lower(email) = lower(t.email)
  returning * into u;
  if u.id is null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  -- A new password ends the account's other mailed links: a sign-in link or an address
  -- change asked by whoever the owner is locking out.
  update rolegate.email_tokens set used_at = now()
  where user_id = u.id and purpose in ('recovery', 'magic_link', 'email_change') and used_at is null;
  insert into rolegate.audit_log (event, user_id, ip)
  values (case when t.purpose = 'invite' then 'invitation_accepted' else 'password_reset' end, u.id, left(p_ip, 64));
  perform rolegate.revoke_user_sessions(u.id, case when t.purpose = 'invite' then 'invitation_accepted' else 'password_reset' end);
  select * into u from rolegate.users where id = u.id;
  new_session_id := rolegate.start_link_session(u, p_refresh_token_hash, p_refresh_ttl_seconds, p_user_agent, p_ip, null);
  return jsonb_build_object('status', 'reset', 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
do $$
declare
  fn text;
  browser_role text;
begin
  foreach fn in array array[
    'rolegate.email_token_refusal_any(text, text[])',
    'rolegate.queue_token_mail(uuid, text, text, text, integer, text, jsonb, text)',
    'rolegate.request_signup(text, text, text[], boolean, text, integer, text, text[], integer[], integer, text)',
    'rolegate.sign_in_with_token(text, text[], text, integer, text, text)',
    'rolegate.live_session_user(uuid, uuid)',
    'rolegate.start_link_session(rolegate.users, text, integer, text, text, text)',
    'rolegate.invite_user(text, text[], text, integer, text, text[], integer[], integer, uuid, text, uuid)'
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
