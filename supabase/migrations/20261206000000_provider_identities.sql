-- Sign-in with GitHub, Google, GitLab or any OpenID Connect provider (src/auth/provider-sign-in.ts).
--
-- A provider identity (the provider's id and its subject) belongs to one user. It is linked to an
-- existing user only through an address the provider says is verified; a new user follows the
-- registration policy, decided by the caller. The `state` of each sign-in is recorded here when
-- it is used, so a callback replayed with the same state is refused even with its cookie.

create table rolegate.identities (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references rolegate.users (id) on delete cascade,
  provider text not null check (provider ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
  subject text not null check (length(subject) between 1 and 255),
  -- The address the provider gave when the identity was linked.
  email text,
  created_at timestamptz not null default now(),
  last_sign_in_at timestamptz not null default now(),
  unique (provider, subject)
);
create index identities_user_id_idx on rolegate.identities (user_id);

create table rolegate.used_provider_states (
  state_hash text primary key check (state_hash ~ '^[0-9a-f]{64}$'),
  expires_at timestamptz not null
);
create index used_provider_states_expires_idx on rolegate.used_provider_states (expires_at);

alter table rolegate.identities enable row level security;
alter table rolegate.used_provider_states enable row level security;

-- One identity as the account page shows it.
create function rolegate.identity_json(i rolegate.identities) returns jsonb
language sql stable as $$
  select jsonb_build_object('id', i.id, 'provider', i.provider, 'email', i.email,
    'created_at', i.created_at, 'last_sign_in_at', i.last_sign_in_at)
$$;

-- A sign-in the provider vouched for: the state is used once (p_state_hash, remembered for
-- p_state_ttl_seconds, as long as its cookie lives), then
--   a linked identity signs its user in, whatever the provider says of the address now;
--   otherwise the address must be verified by the provider (else "email_unverified");
--   a user with that address gets the identity linked (an address never confirmed is confirmed
--     now and loses any password a sign-up chose, since only the mailbox owner could tell who
--     typed it, and its waiting sign-up links);
--   no user: with p_may_create, a confirmed user with p_new_roles and no password; else
--     "registration_closed".
-- A disabled user is "user_unavailable". Returns {status: "signed_in", outcome: "signed_in" |
-- "linked" | "created", session_id, user} or {status: "state_used" | "email_unverified" |
-- "registration_closed" | "user_unavailable"}.
create function rolegate.sign_in_with_provider(
  p_provider text, p_subject text, p_email text, p_email_verified boolean,
  p_state_hash text, p_state_ttl_seconds integer, p_may_create boolean, p_new_roles text[],
  p_refresh_token_hash text, p_refresh_ttl_seconds integer, p_user_agent text default null, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  linked rolegate.identities;
  outcome text := 'signed_in';
  new_session_id uuid;
  state_recorded text;
begin
  delete from rolegate.used_provider_states where expires_at < now();
  insert into rolegate.used_provider_states (state_hash, expires_at) values (p_state_hash, now() + make_interval(secs => greatest(p_state_ttl_seconds, 0)))
  on conflict do nothing
  returning state_hash into state_recorded;
  if state_recorded is null then
    return jsonb_build_object('status', 'state_used');
  end if;

  select * into linked from rolegate.identities where provider = p_provider and subject = p_subject for update;
  if linked.id is not null then
    select * into u from rolegate.users where id = linked.user_id for update;
  else
    if not coalesce(p_email_verified, false) or p_email is null then
      return jsonb_build_object('status', 'email_unverified');
    end if;
    select * into u from rolegate.users where lower(email) = lower(btrim(p_email)) for update;
    if u.id is null then
      if not p_may_create then
        return jsonb_build_object('status', 'registration_closed');
      end if;
      insert into rolegate.users (email, password_hash, roles, email_confirmed_at)
      values (lower(btrim(p_email)), null, coalesce(p_new_roles, '{}'), now())
      on conflict do nothing
      returning * into u;
      if u.id is null then
        -- Made by a parallel request a moment ago: link to it like any existing user.
        select * into u from rolegate.users where lower(email) = lower(btrim(p_email)) for update;
      else
        outcome := 'created';
        insert into rolegate.audit_log (event, user_id, ip, detail)
        values ('user_signed_up', u.id, left(p_ip, 64), jsonb_build_object('via', p_provider));
      end if;
    end if;
    if u.disabled_at is not null then
      return jsonb_build_object('status', 'user_unavailable');
    end if;
    if outcome <> 'created' then
      outcome := 'linked';
      if u.email_confirmed_at is null then
        update rolegate.users set email_confirmed_at = now(), password_hash = null, updated_at = now()
        where id = u.id returning * into u;
        update rolegate.email_tokens set used_at = now() where user_id = u.id and purpose = 'signup' and used_at is null;
      end if;
    end if;
    insert into rolegate.identities (user_id, provider, subject, email)
    values (u.id, p_provider, p_subject, lower(btrim(p_email)))
    on conflict (provider, subject) do nothing
    returning * into linked;
    if linked.id is null then
      -- A parallel callback for the same identity linked it first: sign in as its user.
      select * into linked from rolegate.identities where provider = p_provider and subject = p_subject;
      select * into u from rolegate.users where id = linked.user_id for update;
      outcome := 'signed_in';
    elsif outcome = 'linked' then
      insert into rolegate.audit_log (event, user_id, ip, detail)
      values ('identity_linked', u.id, left(p_ip, 64), jsonb_build_object('provider', p_provider));
    end if;
  end if;

  if u.id is null or u.disabled_at is not null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  update rolegate.identities set last_sign_in_at = now() where id = linked.id;
  new_session_id := rolegate.start_link_session(u, p_refresh_token_hash, p_refresh_ttl_seconds, p_user_agent, p_ip, p_provider);
  return jsonb_build_object('status', 'signed_in', 'outcome', outcome, 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

-- The identities linked to a user, oldest first.
create function rolegate.list_identities(p_user_id uuid) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(rolegate.identity_json(i) order by i.created_at, i.id), '[]'::jsonb)
  from rolegate.identities i where i.user_id = p_user_id
$$;

-- The user removes one of their own identities from their live session. The last way to sign
-- in stays: an identity is kept while the user has no password and no other identity
-- ("last_sign_in_method"). Returns {status: "removed" | "not_found" | "not_live" | "last_sign_in_method"}.
create function rolegate.unlink_identity(p_user_id uuid, p_session_id uuid, p_identity_id uuid, p_ip text default null) returns jsonb
language plpgsql as $$
declare
  u rolegate.users;
  i rolegate.identities;
begin
  u := rolegate.live_session_user(p_user_id, p_session_id);
  if u.id is null then
    return jsonb_build_object('status', 'not_live');
  end if;
  select * into i from rolegate.identities where id = p_identity_id and user_id = u.id for update;
  if i.id is null then
    return jsonb_build_object('status', 'not_found');
  end if;
  if u.password_hash is null and not exists (select 1 from rolegate.identities where user_id = u.id and id <> i.id) then
    return jsonb_build_object('status', 'last_sign_in_method');
  end if;
  delete from rolegate.identities where id = i.id;
  insert into rolegate.audit_log (event, user_id, session_id, ip, detail)
  values ('identity_unlinked', u.id, p_session_id, left(p_ip, 64), jsonb_build_object('provider', i.provider));
  return jsonb_build_object('status', 'removed');
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles (anon, authenticated),
-- all for the service role. Later migrations call this for their own functions.
create function rolegate.restrict_to_service_role(p_functions text[]) returns void
language plpgsql as $$
declare
  fn text;
  browser_role text;
begin
  foreach fn in array p_functions loop
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

select rolegate.restrict_to_service_role(array[
  'rolegate.restrict_to_service_role(text[])',
  'rolegate.identity_json(rolegate.identities)',
  'rolegate.sign_in_with_provider(text, text, text, boolean, text, integer, boolean, text[], text, integer, text, text)',
  'rolegate.list_identities(uuid)',
  'rolegate.unlink_identity(uuid, uuid, uuid, text)'
]);

do $$
declare
  browser_role text;
begin
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on rolegate.identities, rolegate.used_provider_states from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant all on rolegate.identities, rolegate.used_provider_states to service_role;
  end if;
end $$;
revoke all on rolegate.identities, rolegate.used_provider_states from public;
