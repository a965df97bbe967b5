use super::*;

pub(super) const CHECKS: &[Check] = &[
    (
        "user_names_are_unique_and_roles_come_back_typed",
        user_names_are_unique_and_roles_come_back_typed,
    ),
    (
        "tokens_are_found_by_digest_and_go_with_their_user",
        tokens_are_found_by_digest_and_go_with_their_user,
    ),
    (
        "the_last_admin_can_be_neither_demoted_nor_removed",
        the_last_admin_can_be_neither_demoted_nor_removed,
    ),
];

pub(super) fn user(name: &str, role: Role) -> UserRecord {
    UserRecord {
        name: name.into(),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${name}"),
        created: "2026-01-01T00:00:00Z".into(),
    }
}

fn user_names_are_unique_and_roles_come_back_typed(s: &dyn Store) {
    s.insert_user(&user("rita", Role::Reviewer)).unwrap();
    s.insert_user(&user("adam", Role::Admin)).unwrap();
    assert!(matches!(
        s.insert_user(&user("rita", Role::Officer)),
        Err(StorageError::Conflict(_))
    ));
    assert_eq!(
        s.find_user("rita").unwrap(),
        Some(user("rita", Role::Reviewer))
    );
    assert_eq!(s.find_user("nobody").unwrap(), None);
    let names: Vec<_> = s
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["adam", "rita"]);

    assert!(s.update_password("rita", "$argon2id$new").unwrap());
    assert!(!s.update_password("nobody", "$argon2id$new").unwrap());
    assert_eq!(
        s.find_user("rita").unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    // The plain delete removes an admin too (the CLI's, run by whoever
    // holds the data directory).
    assert!(s.delete_user("adam").unwrap());
    assert!(!s.delete_user("adam").unwrap());
    assert_eq!(s.list_users().unwrap().len(), 1);
}

fn tokens_are_found_by_digest_and_go_with_their_user(s: &dyn Store) {
    s.insert_user(&user("dave", Role::Auditor)).unwrap();
    s.insert_user(&user("erin", Role::Officer)).unwrap();
    s.insert_token("erin", "", &[3; 32], "2026-01-01T00:00:00Z")
        .unwrap();
    s.insert_token("dave", "nightly export", &[2; 32], "2026-01-02T00:00:00Z")
        .unwrap();
    s.insert_token("dave", "", &[1; 32], "2026-01-03T00:00:00Z")
        .unwrap();
    assert!(matches!(
        s.insert_token("dave", "", &[1; 32], "2026-01-04T00:00:00Z"),
        Err(StorageError::Conflict(_))
    ));
    assert!(
        s.insert_token("nobody", "", &[9; 32], "2026-01-04T00:00:00Z")
            .is_err(),
        "a token needs its user"
    );

    assert_eq!(s.find_token_user(&[2; 32]).unwrap().unwrap().name, "dave");
    assert_eq!(
        s.find_token_user(&[3; 32]).unwrap().unwrap().role,
        Role::Officer
    );
    assert_eq!(s.find_token_user(&[7; 32]).unwrap(), None);

    let listed = s.list_tokens().unwrap();
    let shown: Vec<_> = listed
        .iter()
        .map(|t| (t.owner.as_str(), t.label.as_str(), &t.digest[..4]))
        .collect();
    assert_eq!(
        shown,
        [
            ("dave", "nightly export", "0202"),
            ("dave", "", "0101"),
            ("erin", "", "0303")
        ],
        "by owner then age, named by the digest's hex"
    );
    assert_eq!(listed[0].digest, "02".repeat(32));
    assert_eq!(listed[0].created, "2026-01-02T00:00:00Z");

    assert!(s.delete_token(&[2; 32]).unwrap());
    assert!(!s.delete_token(&[2; 32]).unwrap());
    assert_eq!(s.find_token_user(&[2; 32]).unwrap(), None);
    assert_eq!(s.delete_tokens("dave").unwrap(), 1);
    assert_eq!(s.delete_tokens("dave").unwrap(), 0);
    assert!(s.delete_user("erin").unwrap());
    assert_eq!(s.find_token_user(&[3; 32]).unwrap(), None, "gone with erin");
    assert!(s.list_tokens().unwrap().is_empty());
}

fn the_last_admin_can_be_neither_demoted_nor_removed(s: &dyn Store) {
    s.insert_user(&user("root", Role::Admin)).unwrap();
    s.insert_user(&user("ops", Role::Officer)).unwrap();
    let conflict = |r: Result<bool, StorageError>| matches!(r, Err(StorageError::Conflict(_)));
    assert!(conflict(s.update_role("root", Role::Officer)));
    assert!(conflict(s.delete_user_keeping_an_admin("root")));
    assert_eq!(s.find_user("root").unwrap().unwrap().role, Role::Admin);
    assert!(!s.update_role("nobody", Role::Admin).unwrap());
    assert!(!s.delete_user_keeping_an_admin("nobody").unwrap());

    assert!(s.update_role("ops", Role::Admin).unwrap());
    assert!(s.update_role("root", Role::Auditor).unwrap());
    assert!(conflict(s.delete_user_keeping_an_admin("ops")));
    assert!(s.delete_user_keeping_an_admin("root").unwrap());
    assert!(s.update_role("ops", Role::Admin).unwrap(), "admin to admin");
    let left: Vec<_> = s
        .list_users()
        .unwrap()
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(left, ["ops"]);
}
