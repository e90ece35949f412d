-- One role and one database per service (role = database = password), as the
-- local stack runner creates them. Run once by the postgres image on a new volume.
CREATE ROLE payments LOGIN CREATEDB PASSWORD 'payments';
CREATE DATABASE payments OWNER payments;
CREATE ROLE ledger LOGIN CREATEDB PASSWORD 'ledger';
CREATE DATABASE ledger OWNER ledger;
CREATE ROLE payouts LOGIN CREATEDB PASSWORD 'payouts';
CREATE DATABASE payouts OWNER payouts;
CREATE ROLE notifications LOGIN CREATEDB PASSWORD 'notifications';
CREATE DATABASE notifications OWNER notifications;
