//! Notifications (DESIGN §15): when an object flagged `use_notification_on_post`
//! becomes visible (its upload completes, or a title approves it), each of its
//! recipients gets one, which it reads with `GET …/notifications`.

use serde::Deserialize;

use crate::domain::object::Change;
use crate::domain::{Caller, DataFlags, Object, PermissionType, Status, parse_uint, time};
use crate::error::ApiError;

/// Page sizes of `GET …/notifications`: default and maximum.
pub const LIMIT_DEFAULT: u32 = 20;
pub const LIMIT_MAX: u32 = 100;
/// Notifications older than this are removed by the janitor.
pub const RETENTION_SECS: i64 = 30 * time::DAY;

/// What happened; only posts so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationType {
    Post = 0,
}

impl NotificationType {
    pub fn name(self) -> &'static str {
        match self {
            NotificationType::Post => "post",
        }
    }

    pub fn from_i64(_: i64) -> Self {
        NotificationType::Post
    }
}

/// One notification as its recipient reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Increasing, never reused: the `since` of the next read.
    pub id: u64,
    pub data_id: u64,
    pub owner_id: u32,
    pub kind: NotificationType,
    pub time: i64,
}

/// `?since=…&limit=…` as sent.
#[derive(Debug, Default, Deserialize)]
pub struct NotificationParams {
    pub since: Option<String>,
    pub limit: Option<String>,
}

/// A checked read of one's notifications: those with an id above `since`, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationQuery {
    pub recipient: u32,
    pub since: u64,
    pub limit: u32,
}

impl NotificationQuery {
    /// Only a principal has notifications; a title token is PermissionDenied.
    /// An empty value counts as not given, as in a search.
    pub fn parse(params: &NotificationParams, caller: &Caller) -> Result<Self, ApiError> {
        let Some(recipient) = caller.principal else {
            return Err(ApiError::permission_denied(
                "notifications are a principal's: a title token has none",
            ));
        };
        fn given(value: &Option<String>) -> Option<&str> {
            value.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let since = given(&params.since)
            .map(|v| parse_uint("since", v))
            .transpose()?
            .unwrap_or(0);
        let limit = match given(&params.limit) {
            None => LIMIT_DEFAULT,
            Some(v) => {
                let n = parse_uint("limit", v)?;
                u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=LIMIT_MAX).contains(n))
                    .ok_or_else(|| {
                        ApiError::invalid(format!("limit {n} is out of range 1..={LIMIT_MAX}"))
                    })?
            }
        };
        Ok(NotificationQuery {
            recipient,
            since,
            limit,
        })
    }
}

impl Object {
    /// Who gets a post notification now that this object has become visible:
    /// nobody unless it asks for notifications and has a file (a meta-binary-only
    /// object is finished at prepare and never "posted"); then the owner's friends
    /// for `friend`, the recipients for `specified`, the recipients who are friends
    /// for `specified_friend`, nobody for `public` and `private`. Never the owner.
    /// `owner_friends`: the owner's friend list, sorted.
    pub fn post_recipients(&self, owner_friends: &[u32]) -> Vec<u32> {
        if !self.flags.contains(DataFlags::USE_NOTIFICATION_ON_POST) || !self.has_file() {
            return Vec::new();
        }
        let recipients = &self.access.recipients;
        let mut ids: Vec<u32> = match self.access.kind {
            PermissionType::Friend => owner_friends.to_vec(),
            PermissionType::Specified => recipients.clone(),
            PermissionType::SpecifiedFriend => recipients
                .iter()
                .copied()
                .filter(|r| owner_friends.binary_search(r).is_ok())
                .collect(),
            PermissionType::Public | PermissionType::Private => Vec::new(),
        };
        ids.retain(|&id| id != self.owner_id);
        ids
    }

    /// Does the owner's friend list matter for [`Self::post_recipients`]?
    pub fn post_needs_friends(&self) -> bool {
        self.flags.contains(DataFlags::USE_NOTIFICATION_ON_POST)
            && self.has_file()
            && matches!(
                self.access.kind,
                PermissionType::Friend | PermissionType::SpecifiedFriend
            )
    }
}

impl Change {
    /// Does this change approve an object under review (pending → none), making
    /// it visible to its readers for the first time?
    pub fn approves(&self, before: Status) -> bool {
        before == Status::Pending && self.status == Some(Status::None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Permission;
    use crate::domain::object::State;
    use crate::error::ErrorKind;

    fn object(kind: PermissionType, flags: u32, file: bool) -> Object {
        Object {
            data_id: 1_000_000,
            namespace: "default".into(),
            owner_id: 5,
            size: 1,
            data_type: 0,
            name: String::new(),
            meta_binary: Vec::new(),
            flags: DataFlags(flags),
            period: 30,
            refer_data_id: 0,
            access: Permission {
                kind,
                recipients: vec![5, 7, 8],
            },
            update: Permission::private(),
            status: Status::None,
            state: State::Ready,
            created_time: 0,
            updated_time: 0,
            referred_time: 0,
            referred_count: 0,
            expire_time: time::DAY,
            access_password: 1,
            update_password: 2,
            tags: Vec::new(),
            ratings: Vec::new(),
            persisted: false,
            blob_key: file.then(|| "objects/x".into()),
            version: 1,
        }
    }

    const NOTIFY: u32 = DataFlags::USE_NOTIFICATION_ON_POST;

    #[test]
    fn each_access_type_notifies_its_own_recipients_and_never_the_owner() {
        let friends = [5, 8, 9];
        let got = |kind| object(kind, NOTIFY, true).post_recipients(&friends);
        assert_eq!(got(PermissionType::Friend), vec![8, 9]);
        assert_eq!(got(PermissionType::Specified), vec![7, 8]);
        assert_eq!(got(PermissionType::SpecifiedFriend), vec![8]);
        assert!(got(PermissionType::Public).is_empty());
        assert!(got(PermissionType::Private).is_empty());
    }

    #[test]
    fn without_the_flag_or_a_file_nobody_is_notified() {
        let friends = [8];
        let plain = object(PermissionType::Friend, 0, true);
        assert!(plain.post_recipients(&friends).is_empty());
        let meta_only = object(PermissionType::Friend, NOTIFY, false);
        assert!(meta_only.post_recipients(&friends).is_empty());
        let flagged = object(
            PermissionType::Friend,
            NOTIFY | DataFlags::NOT_USE_STORAGESERVER,
            true,
        );
        assert!(flagged.post_recipients(&friends).is_empty());
    }

    #[test]
    fn only_pending_to_none_is_an_approval() {
        let to = |status| Change {
            status: Some(status),
            ..Change::default()
        };
        assert!(to(Status::None).approves(Status::Pending));
        assert!(!to(Status::None).approves(Status::None));
        assert!(!to(Status::None).approves(Status::Rejected));
        assert!(!to(Status::Rejected).approves(Status::Pending));
        assert!(!Change::default().approves(Status::Pending));
    }

    #[test]
    fn queries_take_defaults_and_refuse_bad_values_and_titles() {
        let me = Caller::principal("default", 7);
        let params = |since: &str, limit: &str| NotificationParams {
            since: Some(since.into()),
            limit: Some(limit.into()),
        };
        let q = NotificationQuery::parse(&NotificationParams::default(), &me).unwrap();
        assert_eq!((q.recipient, q.since, q.limit), (7, 0, LIMIT_DEFAULT));
        let q = NotificationQuery::parse(&params("12", "100"), &me).unwrap();
        assert_eq!((q.since, q.limit), (12, 100));
        let kind =
            |p: NotificationParams, c: &Caller| NotificationQuery::parse(&p, c).unwrap_err().kind;
        assert_eq!(kind(params("x", "1"), &me), ErrorKind::MalformedRequest);
        assert_eq!(kind(params("-1", "1"), &me), ErrorKind::InvalidArgument);
        assert_eq!(kind(params("1", "0"), &me), ErrorKind::InvalidArgument);
        assert_eq!(kind(params("1", "101"), &me), ErrorKind::InvalidArgument);
        assert_eq!(
            kind(NotificationParams::default(), &Caller::title("default")),
            ErrorKind::PermissionDenied
        );
    }
}
