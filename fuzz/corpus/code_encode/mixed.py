def f(x):
    return {"a": [x ** 2, 0x1F, 1e-3]}  # done


	if a->b <<= 3: pass
