"""Department subscriptions: scoped CloudEvents delivered by signed webhooks and a server-sent-events stream."""
