//! The media model: identifiers and value types that prove their own validity, and the records
//! the use cases pass through the ports.
//!
//! Raw input becomes one of these types once, at the edge (`MediaId::parse`, `MediaPath::parse`);
//! everything past that point can rely on the type.

mod access;
mod changes;
mod delete;
mod idempotency;
mod ids;
mod jobs;
mod lifecycle;
mod media;
mod webhooks;

pub use access::*;
pub use changes::*;
pub use delete::*;
pub use idempotency::*;
pub use ids::*;
pub use jobs::*;
pub use lifecycle::*;
pub use media::*;
pub use webhooks::*;
