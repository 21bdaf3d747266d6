data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # DEFAULT_TOPOLOGY of functions/core/topology.ts, key for key (snake_case here);
  # test/integration/infra.test.ts fails when the two disagree.
  topology = {
    topic                    = "ticks"
    push_subscription        = "ticks-writer"
    dead_letter_topic        = "ticks-dead-letter"
    dead_letter_subscription = "ticks-dead-letter-hold"
    dataset                  = "tickstream"
    checkpoints              = "checkpoints"
    heartbeats               = "relay_heartbeats"
    gaps                     = "gaps"
    leases                   = "leases"
  }

  # The relay fleet's Firestore collections (RELAY_OPTIONS' defaults): members and shard ownership.
  fleet_collections = {
    members = "relay_members"
    shards  = "relay_shards"
  }

  # Cloud Run service names (a function's Cloud Run service takes the function's name).
  services = {
    relay     = "tickstream-relay"
    writer    = "tickstream-writer"
    gapfill   = "tickstream-gapfill"
    compactor = "tickstream-compactor"
  }

  # The tables the compactor settles (TABLES entries with `settled`, functions/core/contract/schema.ts),
  # each with its _settled table and its dedup view (docs/decisions/0028); the IAM grants name them, and
  # test/integration/infra.test.ts fails when this map and the code disagree.
  compacted = {
    quotes             = { settled = "quotes_settled", view = "quotes_dedup" }
    derivative_tickers = { settled = "derivative_tickers_settled", view = "derivative_tickers_dedup" }
  }

  # The writer's deterministic Cloud Run URL (https://SERVICE-PROJECT_NUMBER.REGION.run.app): the push
  # endpoint, the OIDC audience Pub/Sub signs, and the only audience the writer accepts (PUSH_AUTH_AUDIENCE).
  # Known before the function exists, so the writer's own env can carry it without a cycle.
  writer_url = "https://${local.services.writer}-${data.google_project.this.number}.${var.region}.run.app"

  # By digest: exactly the image CI built and tested (docs/decisions/0023), never a tag that can move.
  relay_repository = "${var.region}-docker.pkg.dev/${var.project_id}/${var.artifact_repository}/relay"
  relay_image      = "${local.relay_repository}@${var.relay_image_digest}"

  # The relay fleet's pools, one Cloud Run service each (modules/relay): as many as replicas per shard
  # (RELAY_FLEET_REPLICAS' default, 2), so every shard has one replica in each and no rollout of one pool
  # takes both. CD rolls them in this order with the fleet gate between (cloudbuild.yaml).
  relay_pools = ["a", "b"]
}

module "iam" {
  source = "./modules/iam"

  project_id        = var.project_id
  project_number    = data.google_project.this.number
  region            = var.region
  ticks_topic       = module.pubsub.topic_name
  dead_letter_topic = module.pubsub.dead_letter_topic_name
  push_subscription = module.pubsub.push_subscription_name
  dataset           = module.bigquery.dataset_id
  writer_service    = module.writer.service_name
  gapfill_service   = module.gapfill.service_name
  compactor_service = module.compactor.service_name
  compacted_tables  = keys(local.compacted)
  settled_tables    = [for table in local.compacted : table.settled]
  compacted_views   = [for table in local.compacted : table.view]
  gaps_table        = local.topology.gaps
  tardis_secret     = module.secrets.tardis_api_key_secret_id
  docker_repository = module.artifacts.repository_id
  source_bucket     = module.artifacts.source_bucket
}

module "artifacts" {
  source = "./modules/artifacts"

  project_id = var.project_id
  region     = var.region
  repository = var.artifact_repository
}

module "pubsub" {
  source = "./modules/pubsub"

  project_id                 = var.project_id
  topic                      = local.topology.topic
  push_subscription          = local.topology.push_subscription
  dead_letter_topic          = local.topology.dead_letter_topic
  dead_letter_subscription   = local.topology.dead_letter_subscription
  push_endpoint              = local.writer_url
  push_service_account_email = module.iam.push_invoker_email
  max_delivery_attempts      = var.max_delivery_attempts
}

module "bigquery" {
  source = "./modules/bigquery"

  project_id = var.project_id
  location   = coalesce(var.bigquery_location, var.region)
  dataset    = local.topology.dataset
}

module "firestore" {
  source = "./modules/firestore"

  project_id = var.project_id
  location   = coalesce(var.firestore_location, var.region)
  heartbeats = local.topology.heartbeats
  leases     = local.topology.leases
  members    = local.fleet_collections.members
  ttl_field  = "expireAt"
}

module "secrets" {
  source = "./modules/secrets"

  project_id = var.project_id
}

module "relay" {
  source = "./modules/relay"

  project_id            = var.project_id
  region                = var.region
  name                  = local.services.relay
  image                 = local.relay_image
  pools                 = local.relay_pools
  instances_per_pool    = var.relay_instances_per_pool
  fleet_min_shards      = var.relay_fleet_min_shards
  held_images           = { for pool, digest in var.relay_held_digests : pool => "${local.relay_repository}@${digest}" }
  service_account_email = module.iam.relay_email
  streams               = var.relay_streams
  topic                 = module.pubsub.topic_name
  log_level             = var.log_level
  checkpoints           = local.topology.checkpoints
  gaps                  = local.topology.gaps
  heartbeats            = local.topology.heartbeats
  members               = local.fleet_collections.members
  shards                = local.fleet_collections.shards
}

module "writer" {
  source = "./modules/writer"

  project_id            = var.project_id
  region                = var.region
  name                  = local.services.writer
  source_zip            = var.writer_source_zip
  source_bucket         = module.artifacts.source_bucket
  docker_repository     = module.artifacts.repository_id
  build_service_account = module.iam.function_builder_id
  service_account_email = module.iam.writer_email
  push_service_account  = module.iam.push_invoker_email
  push_audience         = local.writer_url
  dataset               = module.bigquery.dataset_id
  checkpoints           = local.topology.checkpoints
  log_level             = var.log_level
  min_instances         = var.writer_min_instances
  max_instances         = var.writer_max_instances
}

module "gapfill" {
  source = "./modules/gapfill"

  project_id            = var.project_id
  region                = var.region
  name                  = local.services.gapfill
  source_zip            = var.gapfill_source_zip
  source_bucket         = module.artifacts.source_bucket
  docker_repository     = module.artifacts.repository_id
  build_service_account = module.iam.function_builder_id
  service_account_email = module.iam.gapfill_email
  dataset               = module.bigquery.dataset_id
  checkpoints           = local.topology.checkpoints
  gaps                  = local.topology.gaps
  leases                = local.topology.leases
  tardis_api_endpoint   = var.tardis_api_endpoint
  tardis_api_key_secret = module.secrets.tardis_api_key_secret_id
  tardis_key_version    = var.tardis_api_key_version
  log_level             = var.log_level
  streams               = var.relay_streams
}

module "compactor" {
  source = "./modules/compactor"

  project_id            = var.project_id
  region                = var.region
  name                  = local.services.compactor
  source_zip            = var.compactor_source_zip
  source_bucket         = module.artifacts.source_bucket
  docker_repository     = module.artifacts.repository_id
  build_service_account = module.iam.function_builder_id
  service_account_email = module.iam.compactor_email
  dataset               = module.bigquery.dataset_id
  log_level             = var.log_level
}

module "scheduler" {
  source = "./modules/scheduler"

  project_id                    = var.project_id
  region                        = var.region
  name                          = "tickstream-gapfill-every-minute"
  target_uri                    = module.gapfill.uri
  invoker_service_account_email = module.iam.scheduler_invoker_email

  compactor_job_name                      = "tickstream-compactor-hourly"
  compactor_uri                           = module.compactor.uri
  compactor_invoker_service_account_email = module.iam.compactor_invoker_email
}

module "monitoring" {
  source = "./modules/monitoring"

  project_id               = var.project_id
  notification_channels    = var.notification_channels
  environment              = var.environment
  relay_service            = local.services.relay
  writer_service           = module.writer.service_name
  gapfill_service          = module.gapfill.service_name
  compactor_service        = module.compactor.service_name
  topic                    = module.pubsub.topic_name
  push_subscription        = module.pubsub.push_subscription_name
  dead_letter_subscription = module.pubsub.dead_letter_subscription_name
}
