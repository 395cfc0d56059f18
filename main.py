from source_wootric.run import run

if __name__ == "__main__":
    run()
