// Package platform is the infrastructure every service and the gateway
// share: databases (pgdb), the outbox and its feeds, idempotency, audit
// chains, tokens and callers, serving, logging, metrics and tracing. Where it
// needs a county rule (a caller's office, a method's scope) it calls
// services/county; it holds none itself.
package platform
