# The relay holds outbound exchange websockets, so it must run all the time with CPU always allocated.
#
# A fleet in two pools (docs/decisions/0021, docs/DEPLOY.md "The relay fleet"): one Cloud Run service per
# pool, `<name>-a` and `<name>-b`, each instance told its pool (RELAY_POOL). The assignment gives each
# shard one replica in each pool, so a rollout or a crash loop of one service never takes both replicas of
# a shard; CD rolls pool a, checks the fleet in Firestore (scripts/release/fleet-gate.ts), then rolls b.
#
# Why Cloud Run *services* (fixed instance count, instance-based billing) rather than worker pools:
# - in the pinned provider (6.41.0) google_cloud_run_v2_worker_pool is still a BETA launch-stage
#   resource, and worker pools take no HTTP probes, so a revision could not prove it is streaming;
# - as a service, the startup probe on /readyz (200 once every stream's subscription is proven by data) gates every rollout: a new
#   revision takes traffic, and the old one gets SIGTERM, only after the new one is receiving ticks. The
#   two overlap for a moment (duplicate rows, removed by row_id in the *_dedup views), which is what a
#   redeploy without a hole needs; a revision that cannot connect never replaces a working one;
# - the liveness probe on /healthz restarts a wedged process.
# Revisit when worker pools are GA in the provider and the rollout overlap can be had there too.

resource "google_cloud_run_v2_service" "relay" {
  for_each = toset(var.pools)

  project             = var.project_id
  name                = "${var.name}-${each.key}"
  location            = var.region
  description         = "tickstream relay, pool ${each.key}: exchange websockets (tardis-dev) to Pub/Sub"
  deletion_protection = false

  # Nothing outside the project's network reaches the relay: its endpoints are Cloud Run's own probes.
  # The deploy checks it through data instead (the startup probe gates the rollout, the smoke check
  # reads checkpoints, docs/DEPLOY.md).
  ingress = "INGRESS_TRAFFIC_INTERNAL_ONLY"

  template {
    service_account       = var.service_account_email
    execution_environment = "EXECUTION_ENVIRONMENT_GEN2"

    # A fixed count, never autoscaled: a member joining or leaving moves shards (make-before-break), so
    # the fleet's size is a reviewed change of instances_per_pool, not a reaction to load.
    scaling {
      min_instance_count = var.instances_per_pool
      max_instance_count = var.instances_per_pool
    }

    containers {
      image = lookup(var.held_images, each.key, var.image)

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle          = false # instance-based billing: CPU between requests, for the websockets
        startup_cpu_boost = true
      }

      env {
        name  = "GOOGLE_CLOUD_PROJECT"
        value = var.project_id
      }
      env {
        name  = "RELAY_STREAMS"
        value = var.streams
      }
      env {
        name  = "TICKS_TOPIC"
        value = var.topic
      }
      env {
        name  = "LOG_LEVEL"
        value = var.log_level
      }
      # Firestore: checkpoints are read at start (startup gaps go to the gap ledger); the liveness record
      # is written every few seconds (TTL on expireAt, modules/firestore).
      env {
        name  = "CHECKPOINTS_COLLECTION"
        value = var.checkpoints
      }
      env {
        name  = "GAPS_COLLECTION"
        value = var.gaps
      }
      env {
        name  = "HEARTBEATS_COLLECTION"
        value = var.heartbeats
      }
      # The fleet (docs/decisions/0021): every member gets the same streams and shard options, so all compute
      # the same shards; its pool places one replica of each shard in each service. Membership and
      # ownership live in Firestore (TTL on the members' expireAt, modules/firestore).
      env {
        name  = "RELAY_FLEET"
        value = "on"
      }
      env {
        name  = "RELAY_FLEET_POOL"
        value = each.key
      }
      env {
        name  = "RELAY_FLEET_MIN_SHARDS"
        value = tostring(var.fleet_min_shards)
      }
      env {
        name  = "MEMBERS_COLLECTION"
        value = var.members
      }
      env {
        name  = "SHARDS_COLLECTION"
        value = var.shards
      }

      # Ready once every stream's subscription is proven by data; up to 2 minutes to connect to the exchanges.
      # Shutdown: SIGTERM, the relay drains within RELAY_SHUTDOWN_DEADLINE_MS (8 s) of Cloud Run's 10 s.
      startup_probe {
        http_get {
          path = "/readyz"
          port = 8080
        }
        initial_delay_seconds = 2
        period_seconds        = 5
        timeout_seconds       = 3
        failure_threshold     = 24
      }

      # Unhealthy when a stream has no acknowledged coverage for RELAY_HEALTH_STALE_MS (60 s).
      liveness_probe {
        http_get {
          path = "/healthz"
          port = 8080
        }
        period_seconds    = 15
        timeout_seconds   = 5
        failure_threshold = 4
      }
    }
  }

  traffic {
    type    = "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"
    percent = 100
  }
}
