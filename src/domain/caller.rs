//! Who is calling: a title token (full authority in its namespace) or a
//! principal token acting as one principal ID (DESIGN §2).

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub namespace: String,
    /// `None` for a title token.
    pub principal: Option<u32>,
}

impl Caller {
    pub fn title(namespace: impl Into<String>) -> Self {
        Caller {
            namespace: namespace.into(),
            principal: None,
        }
    }

    pub fn principal(namespace: impl Into<String>, id: u32) -> Self {
        Caller {
            namespace: namespace.into(),
            principal: Some(id),
        }
    }

    pub fn is_title(&self) -> bool {
        self.principal.is_none()
    }

    /// Title tokens act as the owner of everything in their namespace.
    pub fn owns(&self, owner_id: u32) -> bool {
        match self.principal {
            None => true,
            Some(me) => me == owner_id,
        }
    }
}
