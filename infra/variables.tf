variable "project_id" {
  description = "Google Cloud project id."
  type        = string
}

variable "region" {
  description = "Region of Cloud Run, the functions, Pub/Sub push, Scheduler and Artifact Registry."
  type        = string
  default     = "europe-west1"
}

variable "bigquery_location" {
  description = "BigQuery dataset location; empty means the region."
  type        = string
  default     = ""
}

variable "firestore_location" {
  description = "Firestore database location (e.g. eur3, nam5 or a region); empty means the region."
  type        = string
  default     = ""
}

variable "relay_streams" {
  description = "Streams the relay records, in the RELAY_STREAMS format: entries separated by ';', each exchange:symbol[,symbol...]:type[,type...], e.g. binance:btcusdt,ethusdt:trade,book_ticker."
  type        = string

  validation {
    # A shape check only; the relay's parser (functions/core/streams-config.ts) is the authority and
    # stops the relay at start with the offending entry named.
    condition     = can(regex("^\\s*[a-z0-9-]+:[^:;]+:[a-z_,\\s]+(\\s*;\\s*[a-z0-9-]+:[^:;]+:[a-z_,\\s]+)*\\s*;?\\s*$", var.relay_streams))
    error_message = "relay_streams must look like exchange:symbol[,symbol]:type[,type][;...], e.g. binance:btcusdt,ethusdt:trade,book_ticker."
  }
}

variable "relay_image_digest" {
  description = "Digest of the relay image CI built and pushed (sha256:<64 hex>, from its release manifest): deployed by digest, never by a tag that can move."
  type        = string

  validation {
    condition     = can(regex("^sha256:[0-9a-f]{64}$", var.relay_image_digest))
    error_message = "relay_image_digest must be sha256:<64 lower-case hex digits>, the digest CI recorded in its release manifest."
  }
}

variable "artifact_repository" {
  description = "Artifact Registry Docker repository holding the relay image and the functions' build images."
  type        = string
  default     = "tickstream"
}

variable "writer_source_zip" {
  description = "Path of the writer's source zip made by scripts/package-function.ts."
  type        = string
  default     = "../dist/packages/writer.zip"
}

variable "gapfill_source_zip" {
  description = "Path of the gap-filler's source zip made by scripts/package-function.ts."
  type        = string
  default     = "../dist/packages/gapfill.zip"
}

variable "compactor_source_zip" {
  description = "Path of the compactor's source zip made by scripts/package-function.ts."
  type        = string
  default     = "../dist/packages/compactor.zip"
}

variable "tardis_api_endpoint" {
  description = "Base URL of the Tardis.dev HTTP API the gap-filler backfills from."
  type        = string
  default     = "https://api.tardis.dev/v1"
}

variable "tardis_api_key_version" {
  description = "Version of the tardis-api-key secret the gap-filler reads, a number (never latest): a rotation is a reviewed apply."
  type        = string

  validation {
    condition     = can(regex("^[1-9][0-9]*$", var.tardis_api_key_version))
    error_message = "tardis_api_key_version must be a version number such as 3, not latest: pin the secret version."
  }
}

variable "log_level" {
  description = "Least severity the deployables log (DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL"], var.log_level)
    error_message = "log_level must be one of DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL."
  }
}

variable "writer_min_instances" {
  description = "Writer instances kept warm (a cold start delays the first pushes after a quiet period)."
  type        = number
  default     = 1
}

variable "writer_max_instances" {
  description = "Upper bound on writer instances (each takes up to 16 concurrent pushes)."
  type        = number
  default     = 20
}

variable "max_delivery_attempts" {
  description = "Push deliveries of one message before it moves to the dead-letter topic (5-100). With 10-600 s backoff, 30 attempts ride out about four hours of BigQuery or Firestore trouble."
  type        = number
  default     = 30

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (a Pub/Sub limit)."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channel ids (projects/P/notificationChannels/N) every alert notifies; required when environment is production."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "notification_channels must be ids like projects/my-project/notificationChannels/1234567890 (gcloud beta monitoring channels list --format='value(name)')."
  }
}

variable "environment" {
  description = "What this deployment is: production (alerts must notify someone: an empty notification_channels fails the plan), staging or development."
  type        = string
  default     = "production"

  validation {
    condition     = contains(["production", "staging", "development"], var.environment)
    error_message = "environment must be production, staging or development."
  }
}

variable "relay_instances_per_pool" {
  description = "Relay instances in each of the two pools (the fleet is twice this). Each shard has one replica per pool; more instances spread the shards (docs/DEPLOY.md, The relay fleet)."
  type        = number
  default     = 1

  validation {
    condition     = var.relay_instances_per_pool >= 1 && floor(var.relay_instances_per_pool) == var.relay_instances_per_pool
    error_message = "relay_instances_per_pool must be a whole number >= 1."
  }
}

variable "relay_held_digests" {
  description = "Pool -> relay image digest to keep instead of relay_image_digest. CD's first apply holds pool b at the digest it runs (output relay_pool_digests) while pool a rolls; the second apply, after the fleet gate, sets {}."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for pool, digest in var.relay_held_digests : contains(["a", "b"], pool) && can(regex("^sha256:[0-9a-f]{64}$", digest))])
    error_message = "relay_held_digests maps a pool (a or b) to sha256:<64 lower-case hex digits>."
  }
}

variable "relay_fleet_min_shards" {
  description = "Least shards per exchange (RELAY_FLEET_MIN_SHARDS of every relay; the deploy gate plans the same shards). More shards than members spread a small configuration over the fleet."
  type        = number
  default     = 1

  validation {
    condition     = var.relay_fleet_min_shards >= 1 && floor(var.relay_fleet_min_shards) == var.relay_fleet_min_shards
    error_message = "relay_fleet_min_shards must be a whole number >= 1."
  }
}
