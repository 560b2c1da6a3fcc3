import { DiscoveryService } from '@nestjs/core';
import type { PipelineStageOptions } from './pipeline.interfaces';

/**
 * Marks a provider as a domain's pipeline stage: `@PipelineStage({domain: 'fraud', order: 100})`
 * on a class implementing `StageHandler`. Found at boot; two stages for one domain stop the boot.
 */
export const PipelineStage = DiscoveryService.createDecorator<PipelineStageOptions>();
