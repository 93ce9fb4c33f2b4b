// Library enums as command-line argument values.
import ArgumentParser
import CrystallineDistributed
import CrystallineTokenizers
import CrystallineTraining
import CrystallineModel

extension TokenizerKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
extension EmbeddingInit: ExpressibleByArgument {}
extension PositionalEncoding: ExpressibleByArgument {}
extension GradientWire: ExpressibleByArgument {}
extension AttentionBias: ExpressibleByArgument {}
extension VocabOrder: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}
extension WeightFormat: ExpressibleByArgument {}
extension ActivationMemory: ExpressibleByArgument {}
