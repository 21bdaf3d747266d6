output "relay_url" {
  description = "Pool -> URL of the relay's health endpoints (/healthz, /readyz); internal ingress, reachable only from the project's VPC."
  value       = module.relay.uris
}

output "relay_pool_digests" {
  description = "Pool -> the relay image digest its service runs (CD reads it to hold pool b while it rolls pool a)."
  value       = { for pool, image in module.relay.images : pool => element(split("@", image), 1) }
}

output "relay_image" {
  description = "The relay image this apply deployed."
  value       = local.relay_image
}

output "writer_url" {
  description = "The writer's deterministic URL: the push endpoint and the push token audience."
  value       = local.writer_url
}

output "gapfill_url" {
  description = "URL Cloud Scheduler calls every minute."
  value       = module.gapfill.uri
}

output "compactor_url" {
  description = "URL Cloud Scheduler calls every hour."
  value       = module.compactor.uri
}

output "topic" {
  description = "Pub/Sub topic the relay publishes tick batches to."
  value       = module.pubsub.topic_name
}

output "push_subscription" {
  description = "Push subscription feeding the writer."
  value       = module.pubsub.push_subscription_name
}

output "dead_letter_subscription" {
  description = "Subscription that keeps dead-lettered messages for inspection and replay."
  value       = module.pubsub.dead_letter_subscription_name
}

output "dataset" {
  description = "BigQuery dataset holding the tick, coverage, quarantine and gaps tables."
  value       = module.bigquery.dataset_id
}

output "scheduler_job" {
  description = "Cloud Scheduler job that runs the gap-filler."
  value       = module.scheduler.job_name
}

output "compactor_scheduler_job" {
  description = "Cloud Scheduler job that runs the compactor every hour."
  value       = module.scheduler.compactor_job_name
}

output "tardis_api_key_secret" {
  description = "Secret Manager secret to add the Tardis.dev API key to (gcloud secrets versions add)."
  value       = module.secrets.tardis_api_key_secret_id
}

output "service_accounts" {
  description = "Email of each component's service account."
  value       = module.iam.emails
}

output "relay_hold_tfvars" {
  description = "CD's first phase (cloudbuild.yaml, hold-pool-b): a tfvars JSON holding every pool but the first at the digest it runs."
  value = jsonencode({
    relay_held_digests = {
      for pool, image in module.relay.images : pool => element(split("@", image), 1) if pool != local.relay_pools[0]
    }
  })
}
