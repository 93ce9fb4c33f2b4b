// Library enums as command-line argument values.
import ArgumentParser
import CrystallineTokenizers
import CrystallineTraining

extension TokenizerKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ScheduleKind: ExpressibleByArgument {}
