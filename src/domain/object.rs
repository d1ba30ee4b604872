//! A DataStore object and who may read or change it (DESIGN §3, §4).

use crate::domain::friends::{FriendLists, NoFriends};
use crate::domain::rating::RatingTotals;
use crate::domain::{Caller, time};
use crate::error::{ApiError, ErrorKind};

/// Permission types with their NEX numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionType {
    Public = 0,
    Friend = 1,
    Specified = 2,
    Private = 3,
    SpecifiedFriend = 4,
}

impl PermissionType {
    pub fn name(self) -> &'static str {
        match self {
            PermissionType::Public => "public",
            PermissionType::Friend => "friend",
            PermissionType::Specified => "specified",
            PermissionType::Private => "private",
            PermissionType::SpecifiedFriend => "specified_friend",
        }
    }

    pub fn parse(name: &str) -> Result<Self, ApiError> {
        Ok(match name {
            "public" => PermissionType::Public,
            "friend" => PermissionType::Friend,
            "specified" => PermissionType::Specified,
            "private" => PermissionType::Private,
            "specified_friend" => PermissionType::SpecifiedFriend,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown permission type '{other}'"
                )));
            }
        })
    }

    pub fn from_i64(value: i64) -> Self {
        match value {
            0 => PermissionType::Public,
            1 => PermissionType::Friend,
            2 => PermissionType::Specified,
            4 => PermissionType::SpecifiedFriend,
            _ => PermissionType::Private,
        }
    }
}

/// An access or update permission: a type and up to 100 recipients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub kind: PermissionType,
    /// Sorted, without duplicates.
    pub recipients: Vec<u32>,
}

impl Permission {
    pub fn private() -> Self {
        Permission {
            kind: PermissionType::Private,
            recipients: Vec::new(),
        }
    }

    /// Does this permission let `principal` (not the owner) through?
    /// `is_friend` tells whether `principal` is a friend of the owner; it is
    /// asked only for friend and specified_friend (DESIGN §3).
    fn admits(
        &self,
        principal: u32,
        is_friend: impl FnOnce() -> Result<bool, ApiError>,
    ) -> Result<bool, ApiError> {
        let recipient = || self.recipients.binary_search(&principal).is_ok();
        Ok(match self.kind {
            PermissionType::Public => true,
            PermissionType::Specified => recipient(),
            PermissionType::Friend => is_friend()?,
            PermissionType::SpecifiedFriend => recipient() && is_friend()?,
            PermissionType::Private => false,
        })
    }
}

/// Review status with the NEX numeric values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    None = 0,
    Pending = 2,
    Rejected = 5,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Pending => "pending",
            Status::Rejected => "rejected",
        }
    }

    pub fn parse(name: &str) -> Result<Self, ApiError> {
        Ok(match name {
            "none" => Status::None,
            "pending" => Status::Pending,
            "rejected" => Status::Rejected,
            other => return Err(ApiError::invalid(format!("unknown status '{other}'"))),
        })
    }

    pub fn from_i64(value: i64) -> Self {
        match value {
            2 => Status::Pending,
            5 => Status::Rejected,
            _ => Status::None,
        }
    }
}

/// Data flags (NEX bit values). Unknown bits are kept but never named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DataFlags(pub u32);

impl DataFlags {
    pub const NEED_REVIEW: u32 = 0x01;
    pub const PERIOD_FROM_LAST_REFERRED: u32 = 0x02;
    pub const USE_NOTIFICATION_ON_POST: u32 = 0x08;
    pub const NOT_USE_STORAGESERVER: u32 = 0x20;

    const NAMES: [(u32, &'static str); 4] = [
        (Self::NEED_REVIEW, "need_review"),
        (Self::PERIOD_FROM_LAST_REFERRED, "period_from_last_referred"),
        (Self::USE_NOTIFICATION_ON_POST, "use_notification_on_post"),
        (Self::NOT_USE_STORAGESERVER, "not_use_storageserver"),
    ];

    /// Adds a flag by its wire name; `none` adds nothing.
    pub fn insert_name(&mut self, name: &str) -> Result<(), ApiError> {
        if name == "none" {
            return Ok(());
        }
        let bit = Self::NAMES
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(bit, _)| *bit)
            .ok_or_else(|| ApiError::invalid(format!("unknown flag '{name}'")))?;
        self.0 |= bit;
        Ok(())
    }

    pub fn contains(self, bit: u32) -> bool {
        self.0 & bit != 0
    }

    /// Wire names of the known flags that are set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| name)
    }
}

/// Lifecycle state of a stored object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Uploading = 0,
    Ready = 1,
    Deleted = 2,
}

impl State {
    /// The name in nexds's `<state>` element (listing and export; not in the spec).
    pub fn name(self) -> &'static str {
        match self {
            State::Uploading => "uploading",
            State::Ready => "ready",
            State::Deleted => "deleted",
        }
    }
}

/// One DataStore object as the rules see it.
#[derive(Debug, Clone)]
pub struct Object {
    pub data_id: u64,
    pub namespace: String,
    pub owner_id: u32,
    pub size: u64,
    pub data_type: u16,
    pub name: String,
    pub meta_binary: Vec<u8>,
    pub flags: DataFlags,
    pub period: u16,
    pub refer_data_id: u64,
    pub access: Permission,
    pub update: Permission,
    pub status: Status,
    pub state: State,
    pub created_time: i64,
    pub updated_time: i64,
    pub referred_time: i64,
    pub referred_count: u64,
    pub expire_time: i64,
    pub access_password: u64,
    pub update_password: u64,
    pub tags: Vec<Vec<u8>>,
    pub ratings: Vec<RatingTotals>,
    /// Held in a persistence slot: never expires.
    pub persisted: bool,
    /// Key of the current file in storage; `None` for meta-binary-only objects.
    pub blob_key: Option<String>,
    /// Number of the current file version (GS2 generation), from 1.
    pub version: u32,
}

impl Object {
    /// Is the object there at all for callers (finished, not deleted, not expired)?
    pub fn is_live(&self, now: i64) -> bool {
        self.state == State::Ready && self.expire_time > now
    }

    /// May `caller` read this object? A caller who may not gets NotFound, so
    /// existence is not revealed; a non-owner of a pending object gets
    /// UnderReviewing; rejected objects are NotFound to non-owners (DESIGN §4).
    /// `friends` answers whether the caller is a friend of the owner (§14).
    pub fn check_read(
        &self,
        caller: &Caller,
        friends: &dyn FriendLists,
        now: i64,
    ) -> Result<(), ApiError> {
        if caller.namespace != self.namespace || !self.is_live(now) {
            return Err(ApiError::not_found(self.data_id));
        }
        let Some(me) = caller.principal else {
            return Ok(());
        };
        if me == self.owner_id {
            return Ok(());
        }
        if self.status == Status::Rejected
            || !self
                .access
                .admits(me, || self.is_friend_of_owner(friends, me))?
        {
            return Err(ApiError::not_found(self.data_id));
        }
        if self.status == Status::Pending {
            return Err(ApiError::new(
                ErrorKind::UnderReviewing,
                format!("data_id {} is under review", self.data_id),
            ));
        }
        Ok(())
    }

    /// May `caller` change or delete this object? Read first, then update_permission.
    pub fn check_update(
        &self,
        caller: &Caller,
        friends: &dyn FriendLists,
        now: i64,
    ) -> Result<(), ApiError> {
        self.check_read(caller, friends, now)?;
        match caller.principal {
            Some(me)
                if me != self.owner_id
                    && !self
                        .update
                        .admits(me, || self.is_friend_of_owner(friends, me))? =>
            {
                Err(ApiError::permission_denied(format!(
                    "principal {me} may not update data_id {}",
                    self.data_id
                )))
            }
            _ => Ok(()),
        }
    }

    fn is_friend_of_owner(&self, friends: &dyn FriendLists, me: u32) -> Result<bool, ApiError> {
        friends.is_friend(&self.namespace, self.owner_id, me)
    }

    /// Counts a download reference at `now` (urlinfo): referred_count and
    /// referred_time, and for period_from_last_referred a new expiry (DESIGN §4).
    pub fn refer(&mut self, now: i64) {
        self.referred_count = self.referred_count.saturating_add(1);
        self.referred_time = now;
        if self.flags.contains(DataFlags::PERIOD_FROM_LAST_REFERRED) && !self.persisted {
            self.expire_time = time::add_days(now, self.period);
        }
    }

    /// Has a file in storage (not meta-binary only)?
    pub fn has_file(&self) -> bool {
        self.blob_key.is_some() && !self.flags.contains(DataFlags::NOT_USE_STORAGESERVER)
    }

    /// Only the owner or a title token reads the passwords (DESIGN §4); the
    /// object is one the store found readable by `caller`.
    pub fn check_password_read(&self, caller: &Caller) -> Result<(), ApiError> {
        if caller.owns(self.owner_id) {
            Ok(())
        } else {
            Err(ApiError::permission_denied(format!(
                "only the owner reads the passwords of data_id {}",
                self.data_id
            )))
        }
    }

    /// The object's file may be read: read permission, and a file to read
    /// (a meta-binary-only object has none: InvalidArgument, DESIGN §5).
    pub fn check_file_read(
        &self,
        caller: &Caller,
        friends: &dyn FriendLists,
        now: i64,
    ) -> Result<(), ApiError> {
        self.check_read(caller, friends, now)?;
        self.check_has_file()
    }

    /// The object's file may be replaced or restored: update permission, and a file.
    pub fn check_file_update(
        &self,
        caller: &Caller,
        friends: &dyn FriendLists,
        now: i64,
    ) -> Result<(), ApiError> {
        self.check_update(caller, friends, now)?;
        self.check_has_file()
    }

    fn check_has_file(&self) -> Result<(), ApiError> {
        if self.has_file() {
            Ok(())
        } else {
            Err(ApiError::invalid(format!(
                "data_id {} has no file (meta-binary only)",
                self.data_id
            )))
        }
    }

    /// Where the upload of this object stands for `caller`'s complete: only the
    /// owner or a title token sees an upload, and one older than `timeout`
    /// seconds is gone (DESIGN §5). `true` while it waits for its complete.
    pub fn check_complete(
        &self,
        caller: &Caller,
        now: i64,
        timeout: i64,
    ) -> Result<bool, ApiError> {
        let id = self.data_id;
        if self.namespace != caller.namespace || !caller.owns(self.owner_id) {
            return Err(ApiError::not_found(id));
        }
        match self.state {
            State::Ready => {
                // The caller owns the object: friendship changes nothing.
                self.check_update(caller, &NoFriends, now)?;
                Ok(false)
            }
            State::Deleted => Err(ApiError::not_found(id)),
            State::Uploading if self.created_time.saturating_add(timeout) <= now => {
                Err(ApiError::new(
                    ErrorKind::NotFound,
                    format!("the upload of data_id {id} was not completed in time"),
                ))
            }
            State::Uploading => Ok(true),
        }
    }

    /// The expiry of an object released from its persistence slot at `now`: it
    /// expires `period` days from then (DESIGN §7).
    pub fn released_expiry(&self, now: i64) -> i64 {
        time::add_days(now, self.period)
    }

    /// Applies `change` at time `now` with the expiry rules of DESIGN §4:
    /// updated_time moves only with modify_update_time; a new period or
    /// modify_update_time recomputes expiry; persisted objects never expire.
    pub fn apply(&mut self, change: &Change, now: i64) {
        if let Some(name) = &change.name {
            self.name.clone_from(name);
        }
        if let Some(status) = change.status {
            self.status = status;
        }
        if let Some(count) = change.referred_count {
            self.referred_count = count;
        }
        if let Some(access) = &change.access {
            self.access = access.clone();
        }
        if let Some(update) = &change.update {
            self.update = update.clone();
        }
        if let Some(tags) = &change.tags {
            self.tags.clone_from(tags);
        }
        if let Some(meta) = &change.meta_binary {
            self.meta_binary.clone_from(meta);
        }
        if let Some(period) = change.period {
            self.period = period;
        }
        if change.modify_update_time {
            self.updated_time = now;
        }
        if change.period.is_some() || change.modify_update_time {
            self.expire_time = self.expiry_base(now, change.modify_update_time);
        }
    }

    /// Where a recomputed expiry counts from: now when the update time moves,
    /// the last reference for period_from_last_referred, else the update time.
    fn expiry_base(&self, now: i64, touched: bool) -> i64 {
        if self.persisted {
            return time::NEVER_EXPIRES;
        }
        let base = if touched {
            now
        } else if self.flags.contains(DataFlags::PERIOD_FROM_LAST_REFERRED) {
            self.referred_time
        } else {
            self.updated_time
        };
        time::add_days(base, self.period)
    }
}

/// The fields of a `<change>` that were given; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Change {
    pub name: Option<String>,
    pub period: Option<u16>,
    pub status: Option<Status>,
    pub referred_count: Option<u64>,
    pub access: Option<Permission>,
    pub update: Option<Permission>,
    pub tags: Option<Vec<Vec<u8>>>,
    pub meta_binary: Option<Vec<u8>>,
    pub modify_update_time: bool,
}

impl Change {
    /// Does it set the review status and nothing else (a moderator's decision)?
    pub fn is_status_only(&self) -> bool {
        let Change {
            name,
            period,
            status,
            referred_count,
            access,
            update,
            tags,
            meta_binary,
            modify_update_time,
        } = self;
        status.is_some()
            && name.is_none()
            && period.is_none()
            && referred_count.is_none()
            && access.is_none()
            && update.is_none()
            && tags.is_none()
            && meta_binary.is_none()
            && !modify_update_time
    }

    /// Review status and the reference counter belong to the title (DESIGN §2, §4).
    pub fn check_caller(&self, caller: &Caller) -> Result<(), ApiError> {
        if caller.is_title() {
            return Ok(());
        }
        if self.status.is_some() {
            return Err(ApiError::permission_denied(
                "only a title token may change status",
            ));
        }
        if self.referred_count.is_some() {
            return Err(ApiError::permission_denied(
                "only a title token may set referred_count",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(owner: u32, access: PermissionType, update: PermissionType) -> Object {
        Object {
            data_id: 1_000_000,
            namespace: "default".into(),
            owner_id: owner,
            size: 0,
            data_type: 0,
            name: String::new(),
            meta_binary: Vec::new(),
            flags: DataFlags::default(),
            period: 30,
            refer_data_id: 0,
            access: Permission {
                kind: access,
                recipients: vec![7],
            },
            update: Permission {
                kind: update,
                recipients: vec![7],
            },
            status: Status::None,
            state: State::Ready,
            created_time: 1000,
            updated_time: 1000,
            referred_time: 1000,
            referred_count: 0,
            expire_time: 1000 + 30 * time::DAY,
            access_password: 1,
            update_password: 2,
            tags: Vec::new(),
            ratings: Vec::new(),
            persisted: false,
            blob_key: None,
            version: 1,
        }
    }

    fn kind(r: Result<(), ApiError>) -> Option<ErrorKind> {
        r.err().map(|e| e.kind)
    }

    #[test]
    fn owner_always_passes_and_strangers_see_nothing_private() {
        let o = object(5, PermissionType::Private, PermissionType::Private);
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 5), &NoFriends, 2000)),
            None
        );
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 6), &NoFriends, 2000)),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind(o.check_update(&Caller::title("default"), &NoFriends, 2000)),
            None
        );
    }

    #[test]
    fn specified_admits_recipients_and_friend_types_deny() {
        let o = object(5, PermissionType::Specified, PermissionType::Public);
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 7), &NoFriends, 2000)),
            None
        );
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 8), &NoFriends, 2000)),
            Some(ErrorKind::NotFound)
        );
        let f = object(5, PermissionType::Friend, PermissionType::Private);
        assert_eq!(
            kind(f.check_read(&Caller::principal("default", 7), &NoFriends, 2000)),
            Some(ErrorKind::NotFound)
        );
    }

    /// Friend lists as (owner, friend) pairs of namespace `default`.
    struct Pairs(&'static [(u32, u32)]);

    impl FriendLists for Pairs {
        fn is_friend(&self, namespace: &str, owner: u32, friend: u32) -> Result<bool, ApiError> {
            Ok(namespace == "default" && self.0.contains(&(owner, friend)))
        }
    }

    #[test]
    fn friend_types_admit_friends_of_the_owner_and_specified_friend_also_needs_the_list() {
        // 7 and 8 are friends of 5; 7 is the recipient; 9 is nobody; 5 is not 7's friend.
        let friends = Pairs(&[(5, 7), (5, 8), (7, 5)]);
        let read = |access, who| {
            let o = object(5, access, PermissionType::Private);
            kind(o.check_read(&Caller::principal("default", who), &friends, 2000))
        };
        let not_found = Some(ErrorKind::NotFound);
        assert_eq!(read(PermissionType::Friend, 7), None);
        assert_eq!(read(PermissionType::Friend, 8), None);
        assert_eq!(read(PermissionType::Friend, 9), not_found);
        assert_eq!(read(PermissionType::SpecifiedFriend, 7), None);
        assert_eq!(read(PermissionType::SpecifiedFriend, 8), not_found);
        assert_eq!(read(PermissionType::SpecifiedFriend, 9), not_found);
        // Directed: 5 lists 7, which is not 7 listing 5.
        let o = object(7, PermissionType::Friend, PermissionType::Private);
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 5), &friends, 2000)),
            None
        );
        let o = object(8, PermissionType::Friend, PermissionType::Private);
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 5), &friends, 2000)),
            not_found
        );
        // A friend of the owner in another namespace is nobody here.
        let mut o = object(5, PermissionType::Friend, PermissionType::Private);
        o.namespace = "other".into();
        assert_eq!(
            kind(o.check_read(&Caller::principal("other", 7), &friends, 2000)),
            not_found
        );
    }

    #[test]
    fn friend_update_permissions_let_friends_change_what_they_may_read() {
        let friends = Pairs(&[(5, 7), (5, 8)]);
        let o = object(5, PermissionType::Public, PermissionType::Friend);
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 8), &friends, 2000)),
            None
        );
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 9), &friends, 2000)),
            Some(ErrorKind::PermissionDenied)
        );
        let o = object(5, PermissionType::Public, PermissionType::SpecifiedFriend);
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 7), &friends, 2000)),
            None
        );
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 8), &friends, 2000)),
            Some(ErrorKind::PermissionDenied)
        );
    }

    #[test]
    fn readers_without_update_permission_are_denied() {
        let o = object(5, PermissionType::Public, PermissionType::Private);
        assert_eq!(
            kind(o.check_update(&Caller::principal("default", 9), &NoFriends, 2000)),
            Some(ErrorKind::PermissionDenied)
        );
    }

    #[test]
    fn review_status_hides_objects_from_non_owners() {
        let mut o = object(5, PermissionType::Public, PermissionType::Public);
        o.status = Status::Pending;
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 9), &NoFriends, 2000)),
            Some(ErrorKind::UnderReviewing)
        );
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 5), &NoFriends, 2000)),
            None
        );
        o.status = Status::Rejected;
        assert_eq!(
            kind(o.check_read(&Caller::principal("default", 9), &NoFriends, 2000)),
            Some(ErrorKind::NotFound)
        );
    }

    #[test]
    fn other_namespaces_and_expired_objects_are_not_found() {
        let o = object(5, PermissionType::Public, PermissionType::Public);
        assert_eq!(
            kind(o.check_read(&Caller::title("other"), &NoFriends, 2000)),
            Some(ErrorKind::NotFound)
        );
        assert_eq!(
            kind(o.check_read(&Caller::title("default"), &NoFriends, o.expire_time)),
            Some(ErrorKind::NotFound)
        );
    }

    #[test]
    fn expiry_follows_period_and_modify_update_time() {
        let mut o = object(5, PermissionType::Public, PermissionType::Public);
        o.apply(
            &Change {
                name: Some("n".into()),
                ..Change::default()
            },
            5000,
        );
        assert_eq!(
            (o.updated_time, o.expire_time),
            (1000, 1000 + 30 * time::DAY)
        );
        o.apply(
            &Change {
                period: Some(10),
                ..Change::default()
            },
            5000,
        );
        assert_eq!(
            (o.updated_time, o.expire_time),
            (1000, 1000 + 10 * time::DAY)
        );
        o.apply(
            &Change {
                modify_update_time: true,
                ..Change::default()
            },
            5000,
        );
        assert_eq!(
            (o.updated_time, o.expire_time),
            (5000, 5000 + 10 * time::DAY)
        );
        o.persisted = true;
        o.apply(
            &Change {
                period: Some(1),
                ..Change::default()
            },
            6000,
        );
        assert_eq!(o.expire_time, time::NEVER_EXPIRES);
    }
}
