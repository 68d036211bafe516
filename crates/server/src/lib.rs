//! HTTP interface of the archive (axum): health, transfers, operations and replies.
