// Package changefeed turns the stream of applied indexes into few
// readiness.Changes for subscribers: nothing before the node's first Ready,
// one Initial Change covering everything applied at it, then one Change per
// window however many entries were applied in it. raftsync feeds a
// Coalescer (Applied as the FSM advances, SetReady on readiness changes)
// and hands its Subscriptions to the application as readiness.Subscription.
// A Coalescer owns no goroutine; no method blocks on a subscriber.
package changefeed
