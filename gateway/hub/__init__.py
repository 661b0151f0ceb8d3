"""The event hub: events from the services' outbox relays, stored once, fanned out to
subscribing services and webhook subscribers, each delivery tracked and retried."""
