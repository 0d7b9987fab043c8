from mlpure import hello


def main():
    print(hello())
    return 0
