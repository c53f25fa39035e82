-- The account lifecycle's storage: emailed tokens and a mail outbox.
--
-- An emailed token (recovery, confirmation, invitation, email change, link sign-in) is kept
-- only as a SHA-256, bound to its purpose, its user and the address it was sent to, and is
-- consumed by one UPDATE … WHERE used_at IS NULL, so two clicks on one link give one success.
--
-- Every mail is a row of mail_outbox written in the same transaction as the change it belongs
-- to; delivery claims rows with a lease, marks them sent, and retries the rest with backoff,
-- so a mail server outage delays mail and loses none. The link inside a mail carries a live
-- token, so the outbox keeps it only sealed (AES-256-GCM under a key derived from JWT_SECRET,
-- src/mail/seal.ts): a copy of the database alone opens no account.

alter table rolegate.users add column email_confirmed_at timestamptz;
-- Everyone who exists so far was added by an admin or imported: their address counts as confirmed.
update rolegate.users set email_confirmed_at = created_at;
alter table rolegate.users alter column email_confirmed_at set default now();

create table rolegate.email_tokens (
  token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
  purpose text not null check (purpose in ('signup', 'recovery', 'invite', 'email_change', 'magic_link')),
  user_id uuid not null references rolegate.users (id) on delete cascade,
  email text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index email_tokens_user_id_idx on rolegate.email_tokens (user_id) where used_at is null;

create table rolegate.mail_outbox (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  recipient text not null,
  template text not null check (template ~ '^[a-z_]{1,40}$'),
  -- What the template may show that is no secret (a new address, say).
  variables jsonb not null default '{}',
  -- The secret part (the link with its token), sealed; null for a notice without a link.
  sealed text,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- A deliverer's lease: no other deliverer takes the row before it ends.
  claimed_until timestamptz,
  sent_at timestamptz,
  -- The mail server refused it for good (a 5xx answer): never tried again unless retried by hand.
  failed_at timestamptz,
  last_error text
);
create index mail_outbox_due_idx on rolegate.mail_outbox (next_attempt_at) where sent_at is null and failed_at is null;

alter table rolegate.email_tokens enable row level security;
alter table rolegate.mail_outbox enable row level security;

create or replace function rolegate.user_json(u rolegate.users) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', u.id, 'email', u.email, 'roles', to_jsonb(u.roles),
    'app_metadata', u.app_metadata, 'user_metadata', u.user_metadata,
    'token_version', u.token_version, 'disabled_at', u.disabled_at,
    'email_confirmed_at', u.email_confirmed_at,
    'created_at', u.created_at, 'updated_at', u.updated_at)
$$;

-- Counts one request against every key (a fixed window from the first request, in the login
-- throttle's table under the caller's key names) and says whether any key is now past its
-- limit. Returns {throttled, retry_after_seconds}.
create function rolegate.count_request(p_keys text[], p_limits integer[], p_window_seconds integer) returns jsonb
language plpgsql as $$
begin
  insert into rolegate.login_throttle as t (key, window_started_at, failures)
  select k, now(), 1 from unnest(p_keys) as k
  on conflict (key) do update set
    window_started_at = case when t.window_started_at + make_interval(secs => p_window_seconds) <= now()
                             then now() else t.window_started_at end,
    failures = case when t.window_started_at + make_interval(secs => p_window_seconds) <= now()
                    then 1 else t.failures + 1 end;
  return (
    select jsonb_build_object(
      'throttled', coalesce(bool_or(true), false),
      'retry_after_seconds', coalesce(max(ceil(extract(epoch from
        (t.window_started_at + make_interval(secs => p_window_seconds) - now())))::integer), 0))
    from unnest(p_keys, p_limits) as k(key, max_failures)
    join rolegate.login_throttle t on t.key = k.key
    where t.failures > k.max_failures
      and t.window_started_at + make_interval(secs => p_window_seconds) > now());
end $$;

-- A mail with a token for an existing account (recovery, link sign-in): counted against the
-- throttle keys first, then, only if the address belongs to an enabled user, the token row
-- and the outbox row, together. Earlier unused tokens of the same purpose and user are
-- retired, so only the newest link works. The caller does the same work for every address,
-- and the answer for a known and an unknown one is told apart only by the caller's log.
-- Returns {status: "queued" | "no_account" | "throttled", retry_after_seconds?}.
create function rolegate.request_account_mail(
  p_purpose text, p_email text, p_token_hash text, p_ttl_seconds integer, p_sealed text,
  p_throttle_keys text[], p_throttle_limits integer[], p_window_seconds integer, p_ip text default null
) returns jsonb
language plpgsql as $$
declare
  throttle jsonb;
  u rolegate.users;
begin
  if p_purpose not in ('recovery', 'magic_link') then
    raise exception 'request_account_mail: purpose % is not for an existing account', p_purpose;
  end if;
  throttle := rolegate.count_request(p_throttle_keys, p_throttle_limits, p_window_seconds);
  if (throttle->>'throttled')::boolean then
    return jsonb_build_object('status', 'throttled', 'retry_after_seconds', throttle->'retry_after_seconds');
  end if;
  select * into u from rolegate.users where lower(email) = lower(btrim(p_email)) and disabled_at is null;
  if u.id is null then
    return jsonb_build_object('status', 'no_account');
  end if;
  update rolegate.email_tokens set used_at = now()
  where user_id = u.id and purpose = p_purpose and used_at is null;
  insert into rolegate.email_tokens (token_hash, purpose, user_id, email, expires_at)
  values (p_token_hash, p_purpose, u.id, u.email, now() + make_interval(secs => p_ttl_seconds));
  insert into rolegate.mail_outbox (recipient, template, sealed) values (u.email, p_purpose, p_sealed);
  insert into rolegate.audit_log (event, user_id, ip, detail)
  values ('mail_requested', u.id, left(p_ip, 64), jsonb_build_object('purpose', p_purpose));
  return jsonb_build_object('status', 'queued');
end $$;

-- What a token is, without using it: for the page a mailed link opens.
-- Returns {status: "valid" | "used" | "expired" | "not_found", purpose?, email?}.
create function rolegate.email_token_status(p_token_hash text) returns jsonb
language sql stable as $$
  select coalesce(
    (select jsonb_build_object(
       'status', case when t.used_at is not null then 'used' when t.expires_at <= now() then 'expired' else 'valid' end,
       'purpose', t.purpose, 'email', t.email)
     from rolegate.email_tokens t where t.token_hash = p_token_hash),
    jsonb_build_object('status', 'not_found'))
$$;

-- Why a token could not be consumed: {status: "used" | "expired" | "wrong_purpose" | "not_found"}.
create function rolegate.email_token_refusal(p_token_hash text, p_purpose text) returns jsonb
language sql stable as $$
  select jsonb_build_object('status', coalesce(
    (select case when t.purpose <> p_purpose then 'wrong_purpose'
                 when t.used_at is not null then 'used'
                 else 'expired' end
     from rolegate.email_tokens t where t.token_hash = p_token_hash),
    'not_found'))
$$;

-- A recovery link used: the token consumed (one statement: of two concurrent uses exactly one
-- gets here), the new password set, the address confirmed (the mail reached it), every
-- session of the user ended, and a new session started, all or nothing.
-- Returns {status: "reset", session_id, user} or a refusal from email_token_refusal, or
-- {status: "user_unavailable"} for a user disabled since the mail (the token stays used).
create function rolegate.reset_password_with_token(
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
  where token_hash = p_token_hash and purpose = 'recovery' and used_at is null and expires_at > now()
  returning * into t;
  if t.token_hash is null then
    return rolegate.email_token_refusal(p_token_hash, 'recovery');
  end if;
  update rolegate.users
  set password_hash = p_password_hash, email_confirmed_at = coalesce(email_confirmed_at, now()), updated_at = now()
  where id = t.user_id and disabled_at is null and lower(email) = lower(t.email)
  returning * into u;
  if u.id is null then
    return jsonb_build_object('status', 'user_unavailable');
  end if;
  insert into rolegate.audit_log (event, user_id, ip) values ('password_reset', u.id, left(p_ip, 64));
  perform rolegate.revoke_user_sessions(u.id, 'password_reset');
  select * into u from rolegate.users where id = u.id;
  insert into rolegate.sessions (user_id, token_version, user_agent, ip)
  values (u.id, u.token_version, left(p_user_agent, 512), left(p_ip, 64))
  returning id into new_session_id;
  insert into rolegate.refresh_tokens (token_hash, session_id, expires_at)
  values (p_refresh_token_hash, new_session_id, now() + make_interval(secs => p_refresh_ttl_seconds));
  insert into rolegate.audit_log (event, user_id, session_id, ip)
  values ('login_succeeded', u.id, new_session_id, left(p_ip, 64));
  return jsonb_build_object('status', 'reset', 'session_id', new_session_id, 'user', rolegate.user_json(u));
end $$;

create function rolegate.mail_json(m rolegate.mail_outbox) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'id', m.id, 'created_at', m.created_at, 'recipient', m.recipient, 'template', m.template,
    'variables', m.variables, 'sealed', m.sealed, 'attempts', m.attempts,
    'next_attempt_at', m.next_attempt_at, 'sent_at', m.sent_at, 'failed_at', m.failed_at,
    'last_error', m.last_error)
$$;

-- Takes up to p_limit due mails for one deliverer: each gets a lease of p_lease_seconds and
-- one more attempt counted. Rows another deliverer holds are skipped, not waited for.
create function rolegate.claim_mail(p_limit integer, p_lease_seconds integer) returns jsonb
language sql as $$
  with due as (
    select id from rolegate.mail_outbox
    where sent_at is null and failed_at is null and next_attempt_at <= now()
      and (claimed_until is null or claimed_until <= now())
    order by next_attempt_at, id
    limit least(greatest(coalesce(p_limit, 10), 1), 100)
    for update skip locked
  ), claimed as (
    update rolegate.mail_outbox m
    set claimed_until = now() + make_interval(secs => p_lease_seconds), attempts = m.attempts + 1
    from due where m.id = due.id
    returning m.*
  )
  select coalesce(jsonb_agg(rolegate.mail_json(c) order by c.id), '[]'::jsonb) from claimed c
$$;

-- The outcome of one delivery attempt. Sent: done for good. Otherwise the next attempt waits
-- p_retry_seconds, or never comes when p_permanent (the server refused the mail itself).
create function rolegate.finish_mail(
  p_id bigint, p_sent boolean, p_error text default null, p_retry_seconds integer default 60, p_permanent boolean default false
) returns jsonb
language plpgsql as $$
declare
  m rolegate.mail_outbox;
begin
  update rolegate.mail_outbox set
    claimed_until = null,
    sent_at = case when p_sent then now() end,
    failed_at = case when not p_sent and p_permanent then now() end,
    last_error = case when p_sent then null else left(p_error, 500) end,
    next_attempt_at = case when p_sent then next_attempt_at else now() + make_interval(secs => greatest(p_retry_seconds, 1)) end
  where id = p_id and sent_at is null
  returning * into m;
  if m.id is null then return jsonb_build_object('status', 'not_found'); end if;
  return jsonb_build_object('status', 'recorded', 'mail', rolegate.mail_json(m));
end $$;

-- The outbox for `rolegate mail`, newest first; p_state: "pending", "sent", "failed" or null for all.
-- The sealed part is left out: nothing outside delivery needs it.
create function rolegate.list_mail(p_limit integer default 50, p_state text default null) returns jsonb
language sql stable as $$
  select coalesce(jsonb_agg(rolegate.mail_json(m) - 'sealed' order by m.id desc), '[]'::jsonb)
  from (
    select * from rolegate.mail_outbox
    where p_state is null
       or (p_state = 'sent' and sent_at is not null)
       or (p_state = 'failed' and failed_at is not null)
       or (p_state = 'pending' and sent_at is null and failed_at is null)
    order by id desc
    limit least(greatest(coalesce(p_limit, 50), 1), 1000)
  ) m
$$;

-- `rolegate mail --retry`: every unsent mail (or one) becomes due now, failed ones included.
create function rolegate.retry_mail(p_id bigint default null) returns jsonb
language plpgsql as $$
declare
  n integer;
begin
  update rolegate.mail_outbox set next_attempt_at = now(), failed_at = null, claimed_until = null
  where sent_at is null and (p_id is null or id = p_id);
  get diagnostics n = row_count;
  return jsonb_build_object('status', 'retried', 'mails', n);
end $$;

-- As in the first migration: nothing for PUBLIC or the browser roles, all for the service role.
do $$
declare
  fn text;
  browser_role text;
begin
  foreach fn in array array[
    'rolegate.count_request(text[], integer[], integer)',
    'rolegate.request_account_mail(text, text, text, integer, text, text[], integer[], integer, text)',
    'rolegate.email_token_status(text)',
    'rolegate.email_token_refusal(text, text)',
    'rolegate.reset_password_with_token(text, text, text, integer, text, text)',
    'rolegate.mail_json(rolegate.mail_outbox)',
    'rolegate.claim_mail(integer, integer)',
    'rolegate.finish_mail(bigint, boolean, text, integer, boolean)',
    'rolegate.list_mail(integer, text)',
    'rolegate.retry_mail(bigint)'
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
  foreach browser_role in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = browser_role) then
      execute format('revoke all on rolegate.email_tokens, rolegate.mail_outbox from %I', browser_role);
    end if;
  end loop;
  if exists (select 1 from pg_roles where rolname = 'service_role') then
    grant all on rolegate.email_tokens, rolegate.mail_outbox to service_role;
    grant all on all sequences in schema rolegate to service_role;
  end if;
end $$;
revoke all on rolegate.email_tokens, rolegate.mail_outbox from public;
