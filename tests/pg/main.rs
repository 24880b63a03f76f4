//! The PostgreSQL engine against a real PostgreSQL server (one per run of
//! this binary, `support::postgres`): the schema and its migrations, byte
//! order, start-up and the redaction of the password.

#[path = "../support/mod.rs"]
mod support;

use support::postgres::server;

#[test]
fn the_test_server_makes_databases() {
    let pg = server();
    let url = pg.empty_database();
    let name = url.split_once("@/").unwrap().1.split('?').next().unwrap();
    assert!(pg.has_database(name), "{url}");
    assert_eq!(pg.psql(name, "SELECT 1 + 1").trim(), "2");
}
