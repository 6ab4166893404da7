"""(family module: registers its configs on import)"""
