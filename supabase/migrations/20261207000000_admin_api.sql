-- The site's admin API and page (src/admin/): users found and paged by address or role, one
-- user with their sessions and linked providers, and the audit log read back. An admin's
-- change names the admin in its audit row (`detail.by`) and the client address it came from,
-- so the three changes an admin makes take who made them; the CLI passes no one (by: null).

drop function rolegate.set_user_roles(uuid, text[]);
create function rolegate.set_user_roles(p_user_id uuid, p_roles text[], p_by uuid default null, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  update rolegate.users set roles = coalesce(p_roles, '{}'), updated_at = now()
  where id = p_user_id returning * into u;
  if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values ('roles_changed', u.id, left(p_ip, 64), jsonb_build_object('roles', to_jsonb(u.roles)) || rolegate.audit_by(p_by));
  return jsonb_build_object('status', 'updated', 'user', rolegate.user_json(u));
end $$;

-- Ends every session of a user and bumps token_version, so no refresh token
-- issued before this call can ever be used again.
drop function rolegate.revoke_user_sessions(uuid, text);
create function rolegate.revoke_user_sessions(p_user_id uuid, p_reason text default 'revoked', p_by uuid default null, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  found_id uuid;
  ended integer;
begin
  update rolegate.users set token_version = token_version + 1, updated_at = now()
  where id = p_user_id returning id into found_id;
  if found_id is null then return jsonb_build_object('status', 'not_found'); end if;
  update rolegate.sessions set revoked_at = now(), revoked_reason = p_reason
  where user_id = p_user_id and revoked_at is null;
  get diagnostics ended = row_count;
  update rolegate.refresh_tokens t set revoked_at = now()
  from rolegate.sessions s
  where t.session_id = s.id and s.user_id = p_user_id and t.revoked_at is null;
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values ('sessions_revoked', p_user_id, left(p_ip, 64), jsonb_build_object('reason', p_reason, 'sessions', ended) || rolegate.audit_by(p_by));
  return jsonb_build_object('status', 'revoked', 'sessions', ended);
end $$;

drop function rolegate.set_user_disabled(uuid, boolean);
create function rolegate.set_user_disabled(p_user_id uuid, p_disabled boolean, p_by uuid default null, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  update rolegate.users
  set disabled_at = case when p_disabled then coalesce(disabled_at, now()) end, updated_at = now()
  where id = p_user_id returning * into u;
  if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  if p_disabled then
    perform rolegate.revoke_user_sessions(p_user_id, 'user_disabled', p_by, p_ip);
  end if;
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values (case when p_disabled then 'user_disabled' else 'user_enabled' end, u.id, left(p_ip, 64), rolegate.audit_by(p_by));
  return jsonb_build_object('status', 'updated', 'user', rolegate.user_json(u));
end $$;

-- `{"by": <admin id>}` for an admin's change, `{}` for one from the CLI or the user.
create function rolegate.audit_by(p_by uuid) returns jsonb
language sql immutable as $$
  select case when p_by is null then '{}'::jsonb else jsonb_build_object('by', p_by) end
$$;

-- A user as the admin page shows one: user_json, whether the address is confirmed and a
-- password set (an invitation not yet taken has neither), and the last sign-in.
create function rolegate.admin_user_json(u rolegate.users) returns jsonb
language sql stable as $$
  select rolegate.user_json(u) || jsonb_build_object(
    'email_confirmed_at', u.email_confirmed_at,
    'has_password', u.password_hash is not null,
    'last_sign_in_at', (select max(s.created_at) from rolegate.sessions s where s.user_id = u.id))
$$;

-- Users whose address contains p_query (any case; '' for all) and, when p_role is given, who
-- hold that role, by address; with how many match in all, for paging.
create function rolegate.search_users(p_query text, p_role text, p_limit integer, p_offset integer) returns jsonb
language sql stable as $$
  with matched as (
    select u from rolegate.users u
    where strpos(lower(u.email), lower(coalesce(p_query, ''))) > 0
      and (p_role is null or p_role = any(u.roles))
  )
  select jsonb_build_object(
    'total', (select count(*) from matched),
    'users', coalesce((
      select jsonb_agg(rolegate.admin_user_json(page.u) order by (page.u).email)
      from (select m.u from matched m order by (m.u).email limit greatest(p_limit, 0) offset greatest(p_offset, 0)) page
    ), '[]'::jsonb))
$$;

-- One user for the admin page: admin_user_json, their latest sessions (newest first, ended
-- ones too) and their linked providers; null when there is no such user.
create function rolegate.admin_user_detail(p_user_id uuid, p_sessions integer default 20) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'user', rolegate.admin_user_json(u),
    'sessions', coalesce((
      select jsonb_agg(jsonb_build_object(
        'id', s.id, 'created_at', s.created_at, 'last_seen_at', s.last_seen_at, 'user_agent', s.user_agent, 'ip', s.ip,
        'live', s.revoked_at is null and s.token_version = u.token_version and u.disabled_at is null,
        'revoked_at', s.revoked_at, 'revoked_reason', s.revoked_reason) order by s.created_at desc, s.id)
      from (select * from rolegate.sessions where user_id = u.id order by created_at desc, id limit greatest(p_sessions, 0)) s
    ), '[]'::jsonb),
    'identities', rolegate.list_identities(u.id))
  from rolegate.users u where u.id = p_user_id
$$;

-- The audit log, newest first: everything, or one user's; p_before (an id) pages back.
create function rolegate.list_audit(p_user_id uuid, p_before bigint, p_limit integer) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(jsonb_build_object(
    'id', a.id, 'at', a.at, 'event', a.event, 'user_id', a.user_id, 'session_id', a.session_id, 'ip', a.ip, 'detail', a.detail) order by a.id desc), '[]'::jsonb)
  from (
    select * from rolegate.audit_log
    where (p_user_id is null or user_id = p_user_id) and (p_before is null or id < p_before)
    order by id desc limit greatest(p_limit, 0)
  ) a
$$;

-- Nothing for PUBLIC or the browser roles, all for the service role (20261206000000).
select rolegate.restrict_to_service_role(array[
  'rolegate.set_user_roles(uuid, text[], uuid, text)',
  'rolegate.revoke_user_sessions(uuid, text, uuid, text)',
  'rolegate.set_user_disabled(uuid, boolean, uuid, text)',
  'rolegate.audit_by(uuid)',
  'rolegate.admin_user_json(rolegate.users)',
  'rolegate.search_users(text, text, integer, integer)',
  'rolegate.admin_user_detail(uuid, integer)',
  'rolegate.list_audit(uuid, bigint, integer)'
]);
