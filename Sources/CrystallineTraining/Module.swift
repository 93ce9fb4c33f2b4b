// CrystallineX
