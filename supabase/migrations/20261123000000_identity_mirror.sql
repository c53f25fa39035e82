-- rolegate: a mirror of Netlify Identity users, fed by Identity's events,
-- its signed webhook and `rolegate sync backfill`, and the cursors of
-- resumable sync jobs.
--
-- A separate table rather than a `source` column on rolegate.users: mirrored
-- users have Identity's ids, no password with us, and Identity stays the
-- authority for them. Content and foreign keys can point at
-- rolegate.identity_users(id); login can read roles from it (ROLES_FROM_IDENTITY).

create table rolegate.identity_users (
  id uuid primary key,
  email text not null,
  roles text[] not null default '{}',
  app_metadata jsonb not null default '{}',
  user_metadata jsonb not null default '{}',
  -- Identity's own timestamps. Copies are ordered by (updated_at, observed_at):
  -- GoTrue changes roles, email and confirmation with UpdateOnly, which leaves
  -- updated_at as it was, so when it ties, the copy read later wins.
  created_at timestamptz,
  updated_at timestamptz not null,
  -- When rolegate read this copy from Identity (event received, page fetched).
  observed_at timestamptz not null,
  confirmed_at timestamptz,
  last_login_at timestamptz,
  instance_id text,
  synced_at timestamptz not null default now()
);

create index identity_users_email on rolegate.identity_users (lower(email));

alter table rolegate.identity_users enable row level security;

-- Where a resumable job (`rolegate sync backfill`) got to, by job name.
create table rolegate.sync_cursors (
  name text primary key,
  cursor jsonb not null,
  updated_at timestamptz not null default now()
);

alter table rolegate.sync_cursors enable row level security;

-- Upserts a batch of Identity users (a JSON array of
-- {id, email, roles, app_metadata, user_metadata, created_at, updated_at,
-- observed_at, confirmed_at, last_login_at, instance_id}) in one statement
-- and reports what happened to them: {created, updated, unchanged, stale}.
--
-- Ordering rule: a copy replaces the row's data only when it is newer by
-- (updated_at, observed_at), so a replayed or late event never overwrites
-- newer data; a newer copy with the same data only moves the ordering key
-- on (unchanged). last_login_at only moves forward, whatever the order.
-- Within one batch the newest copy per id wins, with the latest login of all.
create function rolegate.upsert_identity_users(p_users jsonb) returns jsonb
language plpgsql as $$
declare
  result jsonb;
begin
  if jsonb_typeof(p_users) is distinct from 'array' then
    raise exception 'p_users must be a JSON array' using errcode = '22023';
  end if;

  with incoming as (
    select distinct on ((r->>'id')::uuid)
      (r->>'id')::uuid as id,
      lower(btrim(r->>'email')) as email,
      coalesce(array(select jsonb_array_elements_text(coalesce(r->'roles', '[]'))), '{}') as roles,
      coalesce(r->'app_metadata', '{}') as app_metadata,
      coalesce(r->'user_metadata', '{}') as user_metadata,
      (r->>'created_at')::timestamptz as created_at,
      (r->>'updated_at')::timestamptz as updated_at,
      (r->>'observed_at')::timestamptz as observed_at,
      (r->>'confirmed_at')::timestamptz as confirmed_at,
      -- The latest login of all copies, not only the newest copy's (windows run before distinct on).
      max((r->>'last_login_at')::timestamptz) over (partition by (r->>'id')::uuid) as last_login_at,
      r->>'instance_id' as instance_id
    from jsonb_array_elements(p_users) as t(r)
    order by (r->>'id')::uuid, (r->>'updated_at')::timestamptz desc, (r->>'observed_at')::timestamptz desc
  ),
  before as (
    select i.id, m.id is not null as existed,
      (i.updated_at, i.observed_at) > (m.updated_at, m.observed_at) as newer,
      (i.updated_at, i.observed_at) < (m.updated_at, m.observed_at) as older,
      m.email is not distinct from i.email and m.roles is not distinct from i.roles
        and m.app_metadata is not distinct from i.app_metadata and m.user_metadata is not distinct from i.user_metadata
        and m.confirmed_at is not distinct from i.confirmed_at as same_data,
      i.last_login_at is not null and (m.last_login_at is null or i.last_login_at > m.last_login_at) as login_forward
    from incoming i left join rolegate.identity_users m on m.id = i.id
  ),
  written as (
    insert into rolegate.identity_users as m
      (id, email, roles, app_metadata, user_metadata, created_at, updated_at, observed_at, confirmed_at, last_login_at, instance_id)
    select id, email, roles, app_metadata, user_metadata, created_at, updated_at, observed_at, confirmed_at, last_login_at, instance_id
    from incoming
    on conflict (id) do update set
      email = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.email else m.email end,
      roles = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.roles else m.roles end,
      app_metadata = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.app_metadata else m.app_metadata end,
      user_metadata = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.user_metadata else m.user_metadata end,
      confirmed_at = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.confirmed_at else m.confirmed_at end,
      created_at = coalesce(m.created_at, excluded.created_at),
      instance_id = coalesce(excluded.instance_id, m.instance_id),
      updated_at = greatest(m.updated_at, excluded.updated_at),
      observed_at = case when (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at) then excluded.observed_at else m.observed_at end,
      last_login_at = greatest(m.last_login_at, excluded.last_login_at),
      synced_at = now()
    -- Rows that would change nothing are not touched at all. Nothing below
    -- reads this step: a data-modifying WITH runs whether or not it is read.
    where (excluded.updated_at, excluded.observed_at) > (m.updated_at, m.observed_at)
       or (excluded.last_login_at is not null and (m.last_login_at is null or excluded.last_login_at > m.last_login_at))
  ),
  outcome as (
    select case
      when not b.existed then 'created'
      when (b.newer and not b.same_data) or b.login_forward then 'updated'
      when b.older then 'stale'
      else 'unchanged'
    end as status
    from before b
  )
  select jsonb_build_object(
    'created', count(*) filter (where status = 'created'),
    'updated', count(*) filter (where status = 'updated'),
    'unchanged', count(*) filter (where status = 'unchanged'),
    'stale', count(*) filter (where status = 'stale')
  ) into result from outcome;

  return result;
end $$;

create function rolegate.identity_user_json(m rolegate.identity_users) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', m.id, 'email', m.email, 'roles', to_jsonb(m.roles),
    'app_metadata', m.app_metadata, 'user_metadata', m.user_metadata,
    'created_at', m.created_at, 'updated_at', m.updated_at, 'observed_at', m.observed_at, 'confirmed_at', m.confirmed_at,
    'last_login_at', m.last_login_at, 'instance_id', m.instance_id, 'synced_at', m.synced_at)
$$;

create function rolegate.find_identity_user(p_id uuid default null, p_email text default null) returns jsonb
language sql stable as $$
  select rolegate.identity_user_json(m) from rolegate.identity_users m
  where (p_id is not null and m.id = p_id)
     or (p_id is null and lower(m.email) = lower(btrim(p_email)))
  order by m.updated_at desc, m.observed_at desc
  limit 1
$$;

create function rolegate.get_sync_cursor(p_name text) returns jsonb
language sql stable as $$
  select cursor from rolegate.sync_cursors where name = p_name
$$;

-- A null cursor deletes the row: the job is finished and starts over next time.
create function rolegate.set_sync_cursor(p_name text, p_cursor jsonb) returns void
language plpgsql as $$
begin
  if p_cursor is null or p_cursor = 'null'::jsonb then
    delete from rolegate.sync_cursors where name = p_name;
  else
    insert into rolegate.sync_cursors (name, cursor) values (p_name, p_cursor)
    on conflict (name) do update set cursor = excluded.cursor, updated_at = now();
  end if;
end $$;

-- ---------------------------------------------------------------- grants
-- As in the first migration: nothing for PUBLIC or the browser roles, all
-- for the service role.

revoke all on rolegate.identity_users, rolegate.sync_cursors from public;
revoke all on function rolegate.upsert_identity_users(jsonb), rolegate.identity_user_json(rolegate.identity_users),
  rolegate.find_identity_user(uuid, text),
  rolegate.get_sync_cursor(text), rolegate.set_sync_cursor(text, jsonb) from public;

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on rolegate.identity_users, rolegate.sync_cursors from %I', browser_role);
      execute format('revoke all on all functions in schema rolegate from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant all on rolegate.identity_users, rolegate.sync_cursors to service_role;
    grant execute on all functions in schema rolegate to service_role;
  end if;
end $$;
