-- Replays of one-time credentials (issue 10). A used authorization code is kept, marked used,
-- with the tokens its exchange issued: a second use is refused and revokes them (RFC 6749
-- §4.1.2). A consent page's login ticket is used once: its id is remembered until it expires.
alter table authorization_codes
    add column used_at timestamptz,
    add column issued_jti text,
    add column issued_access_expires_at timestamptz,
    add column issued_family_id uuid;

create table used_login_tickets (
    jti text primary key,
    expires_at timestamptz not null
);
