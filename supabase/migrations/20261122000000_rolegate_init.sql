-- rolegate: users, sessions, rotating refresh tokens, login throttling and an audit log.
--
-- Every change that touches more than one row is a SQL function here, so that
-- concurrent function instances stay correct without any locking in the
-- application. The functions return jsonb so the three store adapters (PGlite,
-- node-postgres, supabase-js/PostgREST) read one shape.
--
-- Applied by `supabase db push` on Supabase, and by rolegate's own migration
-- runner on any other PostgreSQL (including the embedded PGlite).

create schema if not exists rolegate;

-- ---------------------------------------------------------------- tables

create table rolegate.users (
  id uuid primary key default gen_random_uuid(),
  email text not null check (email = lower(btrim(email)) and email like '%_@_%'),
  -- bcrypt in the modular-crypt form; $2a/$2b/$2y all accepted so GoTrue and
  -- Supabase exports keep working. Null: the user cannot sign in with a password.
  password_hash text check (password_hash ~ '^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
  roles text[] not null default '{}',
  app_metadata jsonb not null default '{}',
  user_metadata jsonb not null default '{}',
  -- Bumped to invalidate every session at once; sessions remember the value
  -- they were created under.
  token_version integer not null default 0,
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index users_email_key on rolegate.users (lower(email));

create table rolegate.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references rolegate.users (id) on delete cascade,
  token_version integer not null,
  user_agent text,
  ip text,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_reason text
);
create index sessions_user_id_idx on rolegate.sessions (user_id) where revoked_at is null;

-- Only a SHA-256 (hex) of each refresh token is kept: a leak of this table
-- gives nobody a usable token.
create table rolegate.refresh_tokens (
  id bigint generated always as identity primary key,
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  session_id uuid not null references rolegate.sessions (id) on delete cascade,
  parent_id bigint references rolegate.refresh_tokens (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz,
  revoked_at timestamptz
);
create index refresh_tokens_session_id_idx on rolegate.refresh_tokens (session_id);
create unique index refresh_tokens_one_child_idx on rolegate.refresh_tokens (parent_id) where parent_id is not null;

-- One row per throttle key ("account:<email>", "ip:<address>"), a fixed window
-- that starts at the first failure.
create table rolegate.login_throttle (
  key text primary key,
  window_started_at timestamptz not null,
  failures integer not null
);

create table rolegate.audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  event text not null,
  user_id uuid,
  session_id uuid,
  ip text,
  detail jsonb not null default '{}'
);
create index audit_log_at_idx on rolegate.audit_log (at);

-- ------------------------------------------------------- row-level security
-- On for every table, with no policy at all: the anon and authenticated roles
-- (the browser's keys on Supabase) can read and write nothing. Only the
-- service role, which bypasses RLS, and the table owner reach the rows.

alter table rolegate.users enable row level security;
alter table rolegate.sessions enable row level security;
alter table rolegate.refresh_tokens enable row level security;
alter table rolegate.login_throttle enable row level security;
alter table rolegate.audit_log enable row level security;

-- ------------------------------------------------------------- functions

create function rolegate.user_json(u rolegate.users) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', u.id, 'email', u.email, 'roles', to_jsonb(u.roles),
    'app_metadata', u.app_metadata, 'user_metadata', u.user_metadata,
    'token_version', u.token_version, 'disabled_at', u.disabled_at,
    'created_at', u.created_at, 'updated_at', u.updated_at)
$$;

-- The login lookup: the only function that hands out a password hash.
create function rolegate.find_user_for_login(p_email text) returns jsonb
language sql stable as $$
  select rolegate.user_json(u) || jsonb_build_object('password_hash', u.password_hash)
  from rolegate.users u where lower(u.email) = lower(btrim(p_email))
$$;

create function rolegate.find_user(p_user_id uuid default null, p_email text default null) returns jsonb
language sql stable as $$
  select rolegate.user_json(u) from rolegate.users u
  where (p_user_id is not null and u.id = p_user_id)
     or (p_user_id is null and lower(u.email) = lower(btrim(p_email)))
$$;

create function rolegate.list_users(p_limit integer default 100, p_offset integer default 0) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(rolegate.user_json(u) order by u.created_at, u.id), '[]'::jsonb)
  from (select * from rolegate.users order by created_at, id limit p_limit offset p_offset) u
$$;

-- Returns {status: "created", user} or {status: "email_taken"}.
create function rolegate.create_user(
  p_email text, p_password_hash text, p_roles text[] default '{}',
  p_app_metadata jsonb default '{}', p_user_metadata jsonb default '{}', p_id uuid default null
) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  insert into rolegate.users (id, email, password_hash, roles, app_metadata, user_metadata)
  values (coalesce(p_id, gen_random_uuid()), lower(btrim(p_email)), p_password_hash,
          coalesce(p_roles, '{}'), coalesce(p_app_metadata, '{}'), coalesce(p_user_metadata, '{}'))
  on conflict do nothing
  returning * into u;
  if u.id is null then
    return jsonb_build_object('status', 'email_taken');
  end if;
  insert into rolegate.audit_log (event, user_id) values ('user_created', u.id);
  return jsonb_build_object('status', 'created', 'user', rolegate.user_json(u));
end $$;

-- Imports many users in one transaction: every row lands or none does. Rows
-- whose email (or id) already exists are left untouched and counted as skipped.
-- p_users: [{id?, email, password_hash?, roles?, app_metadata?, user_metadata?}]
create function rolegate.import_users(p_users jsonb) returns jsonb
language plpgsql as $$
declare
  created integer;
begin
  with incoming as (
    select distinct on (lower(btrim(r->>'email')))
      coalesce((r->>'id')::uuid, gen_random_uuid()) as id,
      lower(btrim(r->>'email')) as email,
      r->>'password_hash' as password_hash,
      coalesce(array(select jsonb_array_elements_text(r->'roles')), '{}') as roles,
      coalesce(r->'app_metadata', '{}') as app_metadata,
      coalesce(r->'user_metadata', '{}') as user_metadata
    from jsonb_array_elements(p_users) with ordinality as t(r, n)
    order by lower(btrim(r->>'email')), n
  ), inserted as (
    insert into rolegate.users (id, email, password_hash, roles, app_metadata, user_metadata)
    select id, email, password_hash, roles, app_metadata, user_metadata from incoming
    on conflict do nothing
    returning id
  )
  select count(*) into created from inserted;
  insert into rolegate.audit_log (event, detail)
  values ('users_imported', jsonb_build_object('created', created, 'rows', jsonb_array_length(p_users)));
  return jsonb_build_object('created', created, 'skipped', jsonb_array_length(p_users) - created);
end $$;

-- Role changes take effect at the user's next refresh (the refresh re-reads roles).
create function rolegate.set_user_roles(p_user_id uuid, p_roles text[]) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  update rolegate.users set roles = coalesce(p_roles, '{}'), updated_at = now()
  where id = p_user_id returning * into u;
  if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  insert into rolegate.audit_log (event, user_id, detail)
  values ('roles_changed', u.id, jsonb_build_object('roles', to_jsonb(u.roles)));
  return jsonb_build_object('status', 'updated', 'user', rolegate.user_json(u));
end $$;

create function rolegate.set_user_password(p_user_id uuid, p_password_hash text) returns jsonb
language plpgsql as $$
declare
  found_id uuid;
begin
  update rolegate.users set password_hash = p_password_hash, updated_at = now()
  where id = p_user_id returning id into found_id;
  if found_id is null then return jsonb_build_object('status', 'not_found'); end if;
  insert into rolegate.audit_log (event, user_id) values ('password_changed', found_id);
  return jsonb_build_object('status', 'updated');
end $$;

-- Ends every session of a user and bumps token_version, so no refresh token
-- issued before this call can ever be used again.
create function rolegate.revoke_user_sessions(p_user_id uuid, p_reason text default 'revoked') returns jsonb
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
  insert into rolegate.audit_log (event, user_id, detail)
  values ('sessions_revoked', p_user_id, jsonb_build_object('reason', p_reason, 'sessions', ended));
  return jsonb_build_object('status', 'revoked', 'sessions', ended);
end $$;

create function rolegate.set_user_disabled(p_user_id uuid, p_disabled boolean) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
begin
  update rolegate.users
  set disabled_at = case when p_disabled then coalesce(disabled_at, now()) end, updated_at = now()
  where id = p_user_id returning * into u;
  if u.id is null then return jsonb_build_object('status', 'not_found'); end if;
  if p_disabled then
    perform rolegate.revoke_user_sessions(p_user_id, 'user_disabled');
  end if;
  insert into rolegate.audit_log (event, user_id)
  values (case when p_disabled then 'user_disabled' else 'user_enabled' end, u.id);
  return jsonb_build_object('status', 'updated', 'user', rolegate.user_json(u));
end $$;

-- A successful login: one session, its first refresh token, the account's
-- throttle keys cleared and an audit entry, all or nothing.
-- Returns {status: "created", session_id, user} or {status: "user_unavailable"}.
create function rolegate.create_session(
  p_user_id uuid, p_refresh_token_hash text, p_refresh_ttl_seconds integer,
  p_user_agent text default null, p_ip text default null, p_clear_throttle_keys text[] default '{}'
) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  new_session_id uuid;
begin
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

-- Rotates a refresh token. The caller sends the hash of the presented token
-- and the hash of the successor it would like to issue (rolegate derives the
-- successor from the presented token with a server-side key, so concurrent
-- refreshes of one token all compute the same successor).
--
--   rotated    first use, or a repeat within the grace interval that asks for
--              the same successor: the session goes on (exactly one child row)
--   reused     presented again after the grace interval: the whole session is
--              revoked here and committed, then reported ("commit, then fail")
--   conflict   a repeat within grace asking for a different successor: refused,
--              nothing revoked
--   revoked    the token, its session or the user's token_version was ended
--   expired    past expires_at
--   not_found  no such token
create function rolegate.rotate_refresh_token(
  p_token_hash text, p_successor_hash text, p_refresh_ttl_seconds integer, p_grace_seconds integer
) returns jsonb
language plpgsql as $$
declare
  t rolegate.refresh_tokens;
  s rolegate.sessions;
  u rolegate.users;
  child_hash text;
begin
  -- The row lock serialises every concurrent rotation of the same token.
  select * into t from rolegate.refresh_tokens where token_hash = p_token_hash for update;
  if t.id is null then
    return jsonb_build_object('status', 'not_found');
  end if;
  select * into s from rolegate.sessions where id = t.session_id for update;
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
    if clock_timestamp() - t.used_at <= make_interval(secs => p_grace_seconds) then
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

-- Ends one session, found by its id or by the hash of any of its refresh
-- tokens. Returns {status: "revoked", session_id, user_id} or {status: "not_found"}.
create function rolegate.revoke_session(
  p_session_id uuid default null, p_refresh_token_hash text default null, p_reason text default 'logout'
) returns jsonb
language plpgsql as $$
declare
  s rolegate.sessions;
begin
  select * into s from rolegate.sessions
  where id = coalesce(p_session_id,
    (select session_id from rolegate.refresh_tokens where token_hash = p_refresh_token_hash))
  for update;
  if s.id is null then return jsonb_build_object('status', 'not_found'); end if;
  update rolegate.sessions set revoked_at = coalesce(revoked_at, now()),
    revoked_reason = coalesce(revoked_reason, p_reason) where id = s.id;
  update rolegate.refresh_tokens set revoked_at = now() where session_id = s.id and revoked_at is null;
  insert into rolegate.audit_log (event, user_id, session_id, detail)
  values ('session_revoked', s.user_id, s.id, jsonb_build_object('reason', p_reason));
  return jsonb_build_object('status', 'revoked', 'session_id', s.id, 'user_id', s.user_id);
end $$;

-- Throttle state for a set of keys without changing it: the login asks this
-- before checking a password, so a throttled account is refused even when the
-- password is right. p_limits[i] is the failure limit of p_keys[i].
-- Returns {throttled, retry_after_seconds}.
create function rolegate.login_throttle_status(
  p_keys text[], p_limits integer[], p_window_seconds integer
) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'throttled', coalesce(bool_or(true), false),
    'retry_after_seconds', coalesce(max(ceil(extract(epoch from
      (t.window_started_at + make_interval(secs => p_window_seconds) - now())))::integer), 0))
  from unnest(p_keys, p_limits) as k(key, max_failures)
  join rolegate.login_throttle t on t.key = k.key
  where t.failures >= k.max_failures
    and t.window_started_at + make_interval(secs => p_window_seconds) > now()
$$;

-- Counts one failed login against every key (one atomic upsert per key, so
-- parallel failures are never lost), audits it, and reports the new state.
create function rolegate.record_login_failure(
  p_keys text[], p_limits integer[], p_window_seconds integer,
  p_user_id uuid default null, p_ip text default null
) returns jsonb
language plpgsql as $$
begin
  insert into rolegate.login_throttle as t (key, window_started_at, failures)
  select k, now(), 1 from unnest(p_keys) as k
  on conflict (key) do update set
    window_started_at = case when t.window_started_at + make_interval(secs => p_window_seconds) <= now()
                             then now() else t.window_started_at end,
    failures = case when t.window_started_at + make_interval(secs => p_window_seconds) <= now()
                    then 1 else t.failures + 1 end;
  insert into rolegate.audit_log (event, user_id, ip) values ('login_failed', p_user_id, left(p_ip, 64));
  return rolegate.login_throttle_status(p_keys, p_limits, p_window_seconds);
end $$;

create function rolegate.audit(
  p_event text, p_user_id uuid default null, p_session_id uuid default null,
  p_ip text default null, p_detail jsonb default '{}'
) returns void
language sql as $$
  insert into rolegate.audit_log (event, user_id, session_id, ip, detail)
  values (p_event, p_user_id, p_session_id, left(p_ip, 64), coalesce(p_detail, '{}'))
$$;

-- ---------------------------------------------------------------- grants
-- Functions are executable by PUBLIC by default in PostgreSQL; on Supabase
-- that would let the browser's anon key call them over PostgREST. Take that
-- away and hand everything to the service role alone.

revoke all on schema rolegate from public;
revoke all on all tables in schema rolegate from public;
revoke all on all functions in schema rolegate from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on schema rolegate from %I', browser_role);
      execute format('revoke all on all tables in schema rolegate from %I', browser_role);
      execute format('revoke all on all functions in schema rolegate from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant usage on schema rolegate to service_role;
    grant all on all tables in schema rolegate to service_role;
    grant all on all sequences in schema rolegate to service_role;
    grant execute on all functions in schema rolegate to service_role;
  end if;
end $$;
