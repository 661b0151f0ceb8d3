"""Integration events: the catalogue (what each event says), the transactional outbox a service
writes them to, the relay that delivers them to the gateway's event hub, and the inbox through
which a service consumes the hub's deliveries exactly once in effect."""
