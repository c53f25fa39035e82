-- `rolegate mail retry` no longer takes a mail from the deliverer that holds it. retry_mail
-- cleared claimed_until on every unsent row, so a row a deliverer had claimed and was sending
-- right then became claimable at once, and a second deliverer sent the same mail again. Now a
-- row whose lease has not ended keeps it: the mail is made due and its failure cleared, and it
-- goes to another deliverer only when the lease ends (if its holder records no outcome first).
-- A row with no lease, or an ended one, is retried as before.
-- Same name, arguments and answer {status: "retried", mails} (migrations are append-only);
-- `create or replace` with the same signature keeps the function's owner and grants
-- (PostgreSQL docs, CREATE FUNCTION: "the ownership and permissions of the function do not
-- change"), so the first migration's revokes and service_role grant still hold.

create or replace function rolegate.retry_mail(p_id bigint default null) returns jsonb
language plpgsql as $$
declare
  n integer;
begin
  update rolegate.mail_outbox set
    next_attempt_at = now(),
    failed_at = null,
    claimed_until = case when claimed_until > now() then claimed_until end
  where sent_at is null and (p_id is null or id = p_id);
  get diagnostics n = row_count;
  return jsonb_build_object('status', 'retried', 'mails', n);
end $$;
