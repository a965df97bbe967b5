//! The node's users and their bearer tokens. Only hashes are stored: argon2id
//! for passwords, SHA-256 for tokens, so a copy of the database yields no
//! usable credential. Hashing is the caller's job; the store keeps rows.

use crate::{Hash, StorageError};

/// What a local user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Officer,
    Reviewer,
    Auditor,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Officer, Role::Reviewer, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Officer => "officer",
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// A role name this build does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role '{0}' (expected officer, reviewer, auditor or admin)")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    pub role: Role,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// RFC 3339.
    pub created: String,
}

/// A bearer token as listed: never the secret, only its digest's hex (which
/// names it for revocation) and who holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub digest: String,
    pub owner: String,
    /// What it is for, as given when it was issued (may be empty).
    pub label: String,
    pub created: String,
}

/// Users and tokens. A user's tokens go with the user.
pub trait AuthStore: Send + Sync + 'static {
    /// [`StorageError::Conflict`] when the name is taken.
    fn insert_user(&self, user: &UserRecord) -> Result<(), StorageError>;
    /// False if there is no such user.
    fn update_password(&self, name: &str, password_hash: &str) -> Result<bool, StorageError>;
    /// Deletes a user and its tokens, admin or not; false if there was none.
    fn delete_user(&self, name: &str) -> Result<bool, StorageError>;
    fn find_user(&self, name: &str) -> Result<Option<UserRecord>, StorageError>;
    /// Every user, by name.
    fn list_users(&self) -> Result<Vec<UserRecord>, StorageError>;
    /// Stores a token's digest for an existing user.
    fn insert_token(
        &self,
        owner: &str,
        label: &str,
        digest: &Hash,
        created: &str,
    ) -> Result<(), StorageError>;
    /// Deletes every token of `owner`; how many there were.
    fn delete_tokens(&self, owner: &str) -> Result<u64, StorageError>;
    /// The holder of the token with this digest.
    fn find_token_user(&self, digest: &Hash) -> Result<Option<UserRecord>, StorageError>;
    /// Every token, by owner then age.
    fn list_tokens(&self) -> Result<Vec<TokenRecord>, StorageError>;
    /// False if no token has this digest.
    fn delete_token(&self, digest: &Hash) -> Result<bool, StorageError>;
    /// Changes a role; false if there is no such user, and
    /// [`StorageError::Conflict`] (nothing changed) if it would demote the
    /// last admin. One statement, so two admins demoting each other at once
    /// cannot leave none.
    fn update_role(&self, name: &str, role: Role) -> Result<bool, StorageError>;
    /// Deletes a user unless it is the last admin, as [`Self::update_role`].
    fn delete_user_keeping_an_admin(&self, name: &str) -> Result<bool, StorageError>;
}
