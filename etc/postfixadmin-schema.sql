-- SPDX-License-Identifier: MIT
-- postfixadmin-schema.sql - the four tables of a PostfixAdmin-style mail
-- directory, as the etc/mysql-*.cf examples query them (MariaDB/MySQL).
--
-- This is our own DDL in the shape PostfixAdmin uses (same table and
-- column names, so the same map queries work against a real PostfixAdmin
-- database); PostfixAdmin's own schema has more columns (quotas per
-- domain, password expiry, ...), which the maps never read.
--
--   domain        one row per hosted domain (virtual_mailbox_domains)
--   mailbox       one row per mailbox; maildir is the Maildir path below
--                 virtual_mailbox_base ("example.com/alice/", the trailing
--                 slash asks for Maildir format), as PostfixAdmin stores it
--   alias         address -> comma-separated goto list; "@domain" rows
--                 are catch-alls (virtual_alias_maps)
--   alias_domain  alias_domain -> target_domain: every user of the
--                 target domain also receives mail at the alias domain
--
-- Load it with:  mariadb DBNAME < postfixadmin-schema.sql

CREATE TABLE IF NOT EXISTS domain (
	domain		VARCHAR(255)	NOT NULL,
	description	VARCHAR(255)	NOT NULL DEFAULT '',
	aliases		INT		NOT NULL DEFAULT 0,
	mailboxes	INT		NOT NULL DEFAULT 0,
	maxquota	BIGINT		NOT NULL DEFAULT 0,
	quota		BIGINT		NOT NULL DEFAULT 0,
	transport	VARCHAR(255)	DEFAULT NULL,
	backupmx	TINYINT(1)	NOT NULL DEFAULT 0,
	created		DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	modified	DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	active		TINYINT(1)	NOT NULL DEFAULT 1,
	PRIMARY KEY (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Domains';

CREATE TABLE IF NOT EXISTS mailbox (
	username	VARCHAR(255)	NOT NULL,
	password	VARCHAR(255)	NOT NULL DEFAULT '',
	name		VARCHAR(255)	NOT NULL DEFAULT '',
	maildir		VARCHAR(255)	NOT NULL,
	quota		BIGINT		NOT NULL DEFAULT 0,
	local_part	VARCHAR(255)	NOT NULL,
	domain		VARCHAR(255)	NOT NULL,
	created		DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	modified	DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	active		TINYINT(1)	NOT NULL DEFAULT 1,
	PRIMARY KEY (username),
	KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Mailboxes';

CREATE TABLE IF NOT EXISTS alias (
	address		VARCHAR(255)	NOT NULL,
	goto		TEXT		NOT NULL,
	domain		VARCHAR(255)	NOT NULL,
	created		DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	modified	DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	active		TINYINT(1)	NOT NULL DEFAULT 1,
	PRIMARY KEY (address),
	KEY domain (domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Virtual Aliases';

CREATE TABLE IF NOT EXISTS alias_domain (
	alias_domain	VARCHAR(255)	NOT NULL,
	target_domain	VARCHAR(255)	NOT NULL,
	created		DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	modified	DATETIME	NOT NULL DEFAULT CURRENT_TIMESTAMP,
	active		TINYINT(1)	NOT NULL DEFAULT 1,
	PRIMARY KEY (alias_domain),
	KEY target_domain (target_domain)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci
  COMMENT='Postfix Admin - Domain Aliases';
