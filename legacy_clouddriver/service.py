"""The service's parts, assembled from settings: cloud provider, task repository, accounts cache, processor."""

from __future__ import annotations

from dataclasses import dataclass

from cloud.factory import open_provider
from cloud.provider import CloudProvider
from legacy_clouddriver.accounts import AccountsCache
from legacy_clouddriver.config import ConfigError, Settings
from legacy_clouddriver.executor import OperationExecutor
from legacy_clouddriver.orchestration import OrchestrationProcessor
from legacy_clouddriver.redis_repository import RedisTaskRepository
from legacy_clouddriver.repository import InMemoryTaskRepository, TaskRepository
from legacy_clouddriver.retries import RetryPolicy

__all__ = ["Clouddriver"]


@dataclass(frozen=True, slots=True)
class Clouddriver:
    """Everything a request handler needs. Built once per app by `create_app`."""

    settings: Settings
    provider: CloudProvider
    repository: TaskRepository
    accounts: AccountsCache
    processor: OrchestrationProcessor

    @classmethod
    def build(cls, settings: Settings, provider: CloudProvider | None = None) -> Clouddriver:
        if provider is None:
            try:
                provider = open_provider(settings.cloud)
            except ValueError as e:
                raise ConfigError(f"CLOUDDRIVER_CLOUD: {e}") from e
        repository: TaskRepository
        if settings.redis_url:
            repository = RedisTaskRepository.from_url(
                settings.redis_url,
                ttl_s=settings.task_ttl_s,
                result_delay_s=settings.redis_result_delay_s,
                retry_delay_s=settings.redis_retry_delay_s,
            )
        else:
            repository = InMemoryTaskRepository()
        executor = OperationExecutor(
            provider,
            repository,
            retry=RetryPolicy(attempts=settings.provider_attempts, backoff_s=settings.provider_backoff_s),
            health_timeout_s=settings.health_timeout_s,
            health_poll_s=settings.health_poll_s,
        )
        return cls(
            settings=settings,
            provider=provider,
            repository=repository,
            accounts=AccountsCache(provider, settings.accounts_ttl_s),
            processor=OrchestrationProcessor(repository, executor, max_workers=settings.max_workers),
        )
