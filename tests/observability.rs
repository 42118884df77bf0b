//! Observability tests (placeholder).
