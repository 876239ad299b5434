//! The database tables of Hive as sea-orm entities.
