output "topic_name" {
  value = google_pubsub_topic.ticks.name
}

output "dead_letter_topic_name" {
  value = google_pubsub_topic.dead_letter.name
}

output "push_subscription_name" {
  value = google_pubsub_subscription.writer_push.name
}

output "dead_letter_subscription_name" {
  value = google_pubsub_subscription.dead_letter_hold.name
}
