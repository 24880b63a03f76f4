//! Who is asking: a user as the identity backend knows them, and a caller
//! (a user with the token they came with).

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct User {
    /// The user id (a UUID in Synnefo).
    pub(crate) id: String,
    /// An optional display name.
    pub(crate) name: Option<String>,
}

/// The user behind one request, and the token they sent, which backends that
/// act on the caller's behalf (Pithos) pass on.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Who.
    pub(crate) user: User,
    /// Their token.
    pub(crate) token: String,
}

impl Caller {
    /// The caller's user id.
    pub(crate) fn id(&self) -> &str {
        &self.user.id
    }
}
