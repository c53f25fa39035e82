-- What the Identity-compatible API (src/auth/identity-api*.ts) needs beyond the account flows:
-- Identity's clients use a recovery link to sign in first and choose the password after, in a
-- session that must be young; they keep free-form user_metadata, from sign-up on; they confirm
-- an address change inside the session they have; and admins delete users.

-- A recovery or invitation link used to sign in without choosing a password yet (gotrue's
-- `POST /verify {type: "recovery"}`): the token consumed in one statement, the address
-- confirmed (the mail reached it), a session started, all or nothing.
-- Returns {status: "signed_in", purpose, session_id, user}, a refusal from
-- email_token_refusal_any, or {status: "user_unavailable"}.
create function rolegate.sign_in_with_password_link(
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
  where token_hash = p_token_hash and purpose = any (p_purposes) and purpose in ('recovery', 'invite')
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
  new_session_id := rolegate.start_link_session(u, p_refresh_token_hash, p_refresh_ttl_seconds, p_user_agent, p_ip, t.purpose);
  return jsonb_build_object('status', 'signed_in', 'purpose', t.purpose, 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- Whether p_session_id is a live session of p_user_id that started less than p_seconds ago:
-- the proof a password or address change without the current password needs. (A read; the
-- change that follows checks liveness again under its lock.)
create function rolegate.session_is_recent(p_user_id uuid, p_session_id uuid, p_seconds integer) returns boolean
language sql stable as $$
  select exists (
    select 1 from rolegate.users u join rolegate.sessions s on s.user_id = u.id
    where u.id = p_user_id and s.id = p_session_id and s.revoked_at is null
      and u.disabled_at is null and s.token_version = u.token_version
      and s.created_at > now() - make_interval(secs => p_seconds))
$$;

-- Merges p_patch into the user's user_metadata (a key set to null is removed), as gotrue's
-- `PUT /user {data}` does. With p_session_id, only while that session is live (the user's own
-- change); without, an admin's. Returns {status: "updated", user}, {status: "not_live"} or
-- {status: "not_found"}.
create function rolegate.update_user_metadata(p_user_id uuid, p_patch jsonb, p_session_id uuid default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  merged jsonb;
begin
  if p_session_id is not null then
    u := rolegate.live_session_user(p_user_id, p_session_id);
    if u.id is null then return jsonb_build_object('status', 'not_live'); end if;
  else
    select * into u from rolegate.users where id = p_user_id for update;
    if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  end if;
  select coalesce(jsonb_object_agg(key, value), '{}'::jsonb) into merged
  from jsonb_each(u.user_metadata || coalesce(p_patch, '{}'::jsonb))
  where jsonb_typeof(value) <> 'null';
  update rolegate.users set user_metadata = merged, updated_at = now() where id = u.id returning * into u;
  return jsonb_build_object('status', 'updated', 'user', rolegate.user_json(u));
end $$;

-- Deletes a user: their sessions, refresh tokens and mailed links go with the row (foreign
-- keys), and so do mails still waiting for them. The audit log keeps the event, with the
-- acting admin and without the address. Returns {status: "deleted" | "not_found"}.
create function rolegate.delete_user(p_user_id uuid, p_by uuid default null, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  delete from rolegate.users where id = p_user_id returning * into u;
  if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  delete from rolegate.mail_outbox where lower(recipient) = lower(u.email) and sent_at is null;
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values ('user_deleted', u.id, left(p_ip, 64), case when p_by is null then '{}'::jsonb else jsonb_build_object('by', p_by) end);
  return jsonb_build_object('status', 'deleted');
end $$;

-- A sign-up that also keeps the user_metadata its client sent (Identity's clients send
-- `data`): request_signup, then the data on the account it made, in the same transaction. A known address is left exactly as it was, so the answer and the work stay
-- the same for every address.
create function rolegate.request_signup_with_metadata(
  p_email text, p_password_hash text, p_roles text[], p_confirmed boolean,
  p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_throttle_keys text[], p_throttle_limits integer[], p_window_seconds integer, p_user_metadata jsonb, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  result jsonb;
  u rolegate.users;
begin
  result := rolegate.request_signup(p_email, p_password_hash, p_roles, p_confirmed, p_token_hash, p_ttl_seconds, p_sealed,
    p_throttle_keys, p_throttle_limits, p_window_seconds, p_ip);
  if result->>'status' = 'created' then
    update rolegate.users set user_metadata = coalesce(p_user_metadata, '{}') where id = (result->'user'->>'id')::uuid returning * into u;
    return jsonb_set(result, '{user}', rolegate.user_json(u));
  end if;
  if result->>'status' = 'queued' then
    -- Only a row this sign-up inserted (now() is the transaction's start): a pending sign-up
    -- or an invitation for the address keeps its own data.
    update rolegate.users set user_metadata = coalesce(p_user_metadata, '{}')
    where lower(email) = lower(btrim(p_email)) and created_at = now();
  end if;
  return result;
end $$;

-- An address change link used by its own user in a session of theirs (gotrue's
-- `PUT /user {email_change_token}`): the token consumed, the address moved and confirmed,
-- and no new session, since the caller already has one. A token of another user is refused
-- like an unknown one. Returns {status: "changed", user}, a refusal, {status: "email_taken"}
-- or {status: "not_live"}.
create function rolegate.change_email_in_session(
  p_token_hash text, p_user_id uuid, p_session_id uuid, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  t rolegate.email_tokens;
  u rolegate.users;
begin
  u := rolegate.live_session_user(p_user_id, p_session_id);
  if u.id is null then return jsonb_build_object('status', 'not_live'); end if;
  update rolegate.email_tokens set used_at = now()
  where token_hash = p_token_hash and purpose = 'email_change' and user_id = u.id and used_at is null and expires_at > now()
  returning * into t;
  if t.token_hash is null then
    if exists (select 1 from rolegate.email_tokens where token_hash = p_token_hash and user_id <> u.id) then
      return jsonb_build_object('status', 'not_found');
    end if;
    return rolegate.email_token_refusal_any(p_token_hash, array['email_change']);
  end if;
  begin
    update rolegate.users set email = t.email, email_confirmed_at = now(), updated_at = now()
    where id = u.id returning * into u;
  exception when unique_violation then
    return jsonb_build_object('status', 'email_taken');
  end;
  insert into rolegate.audit_log (event, user_id, session_id, ip) values ('email_changed', u.id, p_session_id, left(p_ip, 64));
  return jsonb_build_object('status', 'changed', 'user', rolegate.user_json(u));
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
do $$
declare
  fn text;
  browser_role text;
begin
  foreach fn in array array[
    'rolegate.sign_in_with_password_link(text, text[], text, integer, text, text)',
    'rolegate.session_is_recent(uuid, uuid, integer)',
    'rolegate.update_user_metadata(uuid, jsonb, uuid)',
    'rolegate.delete_user(uuid, uuid, text)',
    'rolegate.request_signup_with_metadata(text, text, text[], boolean, text, integer, text, text[], integer[], integer, jsonb, text)',
    'rolegate.change_email_in_session(text, uuid, uuid, text)'
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
