-- The three schemas: the roster others read, the staging area data engineers inspect, and the
-- run ledger. Plain SQL; statements end with a semicolon at the end of a line.
CREATE SCHEMA IF NOT EXISTS roster;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS etl;
