//! The test users, defined once: a token and a user id each, Alice's
//! display name, and the one writer of their token file.

use std::path::Path;

/// (token, user id) of the users a test token file holds: Alice, who owns
/// most images of the tests,
pub const ALICE: (&str, &str) = ("alice-token", "alice");
/// Bob, the other user (member, stranger),
pub const BOB: (&str, &str) = ("bob-token", "bob");
/// and Carol, the third when two are not enough.
pub const CAROL: (&str, &str) = ("carol-token", "carol");

/// Alice's display name; Bob and Carol have none unless a test names them.
pub const ALICE_NAME: &str = "Alice Liddell";

/// A user of a token file and the display name it gives them, if any.
pub type Entry<'a> = ((&'a str, &'a str), Option<&'a str>);

/// The token file of the in-process servers: Alice (named), Bob and Carol.
pub const EVERYONE: [Entry<'static>; 3] = [(ALICE, Some(ALICE_NAME)), (BOB, None), (CAROL, None)];

/// Writes a token file of `users`, readable by its owner alone (as an
/// operator would keep it).
pub fn write_tokens(path: &Path, users: &[Entry<'_>]) {
    let mut text = String::from("# test users\n");
    for ((token, id), name) in users {
        text.push_str(&format!("{token} {id}"));
        if let Some(name) = name {
            text.push_str(&format!(" {name}"));
        }
        text.push('\n');
    }
    std::fs::write(path, text).expect("token file written");
    set_mode(path, 0o600);
}

/// Sets the permission bits of a file.
pub fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}
