-- SPDX-License-Identifier: MIT
-- fixtures.sql - test data for tests/maps/mysql: a PostfixAdmin-style
-- database (etc/postfixadmin-schema.sql is loaded first) plus a few
-- tables that exercise multi-row, multi-column and NULL results.
-- Loaded as root into a throwaway server (scripts/lib/mariadb.sh).

INSERT INTO domain (domain, description, backupmx, active) VALUES
	('example.com', 'main domain', 0, 1),
	('example.net', 'second domain, catch-all', 0, 1),
	('mail.example.co.uk', 'three-label domain', 0, 1),
	('inactive.org', 'switched off', 0, 0),
	('backup.example', 'we are backup MX', 1, 1);

INSERT INTO alias_domain (alias_domain, target_domain, active) VALUES
	('example.org', 'example.com', 1),
	('example.info', 'example.net', 1),
	('old.example', 'example.net', 0);

INSERT INTO mailbox (username, name, maildir, local_part, domain, active) VALUES
	('alice@example.com', 'Alice', 'example.com/alice/', 'alice', 'example.com', 1),
	('bob@example.com', 'Bob', 'example.com/bob/', 'bob', 'example.com', 1),
	('dave@example.com', 'Dave (disabled)', 'example.com/dave/', 'dave', 'example.com', 0),
	('carol@example.net', 'Carol', 'example.net/carol/', 'carol', 'example.net', 1),
	('erin@mail.example.co.uk', 'Erin', 'mail.example.co.uk/erin/', 'erin', 'mail.example.co.uk', 1),
	('o''brien@example.com', 'Quote', 'example.com/obrien/', 'o''brien', 'example.com', 1);

INSERT INTO alias (address, goto, domain, active) VALUES
	('alice@example.com', 'alice@example.com', 'example.com', 1),
	('bob@example.com', 'bob@example.com', 'example.com', 1),
	('carol@example.net', 'carol@example.net', 'example.net', 1),
	('erin@mail.example.co.uk', 'erin@mail.example.co.uk', 'mail.example.co.uk', 1),
	('postmaster@example.com', 'alice@example.com,bob@example.com', 'example.com', 1),
	('info@example.com', 'bob@example.com', 'example.com', 1),
	('sales@example.com', 'alice@example.com', 'example.com', 1),
	('disabled@example.com', 'alice@example.com', 'example.com', 0),
	('@example.net', 'carol@example.net', 'example.net', 1),
	('o''brien@example.com', 'o''brien@example.com', 'example.com', 1),
	('back\\slash@example.com', 'alice@example.com', 'example.com', 1),
	('utf8-ü@example.com', 'bob@example.com', 'example.com', 1);

-- Multi-row / multi-column / NULL: one key, several rows, two columns.
CREATE TABLE lists (
	listname	VARCHAR(255)	NOT NULL,
	member		VARCHAR(255)	DEFAULT NULL,
	extra		VARCHAR(255)	DEFAULT NULL,
	pos		INT		NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO lists VALUES
	('staff', 'alice@example.com', NULL, 1),
	('staff', 'bob@example.com', 'b2@example.com', 2),
	('staff', NULL, NULL, 3),
	('staff', 'carol@example.net', '', 4),
	('nulls', NULL, NULL, 1),
	('empty', '', '', 1);

-- A stored procedure (require_result_set tests).
DELIMITER //
CREATE PROCEDURE lookup_alias(IN k VARCHAR(255))
	READS SQL DATA SQL SECURITY INVOKER
BEGIN
	SELECT goto FROM alias WHERE address = k AND active = 1;
END //
CREATE PROCEDURE no_result(IN k VARCHAR(255))
	MODIFIES SQL DATA SQL SECURITY INVOKER
BEGIN
	SET @last = k;
END //
DELIMITER ;
